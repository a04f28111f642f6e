/* SPDX-License-Identifier: ISC */
/* libxml2 loaded on first use (see xmllib.h). */
#include "report/xmllib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static struct xmllib xmllib;
static bool xmllib_loaded;
static pthread_once_t xmllib_once = PTHREAD_ONCE_INIT;

/* dlsym into *slot; false if missing (see sts/sts_fetch.c). */
static bool
xmllib_sym(void *lib, const char *name, void *slot)
{
	void *f = dlsym(lib, name);

	memcpy(slot, &f, sizeof(f));
	return f != NULL;
}

static void
xmllib_load(void)
{
	/* The soname of Debian's libxml2 (ABI 2). */
	void *lib = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
	struct xmllib *x = &xmllib;
	void (*init)(void);

	if (lib == NULL)
		return;
	xmllib_loaded = xmllib_sym(lib, "xmlInitParser", &init) &&
	    xmllib_sym(lib, "xmlReaderForMemory", &x->for_memory) &&
	    xmllib_sym(lib, "xmlTextReaderSetStructuredErrorHandler",
	    &x->set_errors) &&
	    xmllib_sym(lib, "xmlTextReaderRead", &x->read) &&
	    xmllib_sym(lib, "xmlTextReaderNodeType", &x->node_type) &&
	    xmllib_sym(lib, "xmlTextReaderDepth", &x->depth) &&
	    xmllib_sym(lib, "xmlTextReaderConstLocalName", &x->local_name) &&
	    xmllib_sym(lib, "xmlTextReaderConstValue", &x->value) &&
	    xmllib_sym(lib, "xmlTextReaderIsEmptyElement", &x->is_empty) &&
	    xmllib_sym(lib, "xmlFreeTextReader", &x->free_reader) &&
	    xmllib_sym(lib, "xmlBufferCreate", &x->buffer_create) &&
	    xmllib_sym(lib, "xmlBufferFree", &x->buffer_free) &&
	    xmllib_sym(lib, "xmlBufferContent", &x->buffer_content) &&
	    xmllib_sym(lib, "xmlBufferLength", &x->buffer_length) &&
	    xmllib_sym(lib, "xmlNewTextWriterMemory", &x->writer_memory) &&
	    xmllib_sym(lib, "xmlFreeTextWriter", &x->free_writer) &&
	    xmllib_sym(lib, "xmlTextWriterSetIndent", &x->set_indent) &&
	    xmllib_sym(lib, "xmlTextWriterStartDocument",
	    &x->start_document) &&
	    xmllib_sym(lib, "xmlTextWriterEndDocument", &x->end_document) &&
	    xmllib_sym(lib, "xmlTextWriterStartElement", &x->start_element) &&
	    xmllib_sym(lib, "xmlTextWriterStartElementNS",
	    &x->start_element_ns) &&
	    xmllib_sym(lib, "xmlTextWriterEndElement", &x->end_element) &&
	    xmllib_sym(lib, "xmlTextWriterWriteElement", &x->write_element);
	if (xmllib_loaded)
		init();
}

const struct xmllib *
xmllib_get(void)
{
	pthread_once(&xmllib_once, xmllib_load);
	return xmllib_loaded ? &xmllib : NULL;
}
