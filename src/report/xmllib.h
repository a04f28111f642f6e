/* SPDX-License-Identifier: ISC */
/*
 * libxml2, loaded with dlopen on first use: it pulls in ICU and libstdc++
 * (about 250 KiB of private memory in every process that links it), and
 * only the report job and the queue runner's report reader use XML; the
 * SMTP workers and the master must not carry it. One table for every
 * libxml2 function the project calls, reader and writer.
 */
#ifndef SEALMAIL_REPORT_XMLLIB_H
#define SEALMAIL_REPORT_XMLLIB_H

#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlwriter.h>

struct xmllib {
	/* reader (in_dmarc.c) */
	xmlTextReaderPtr (*for_memory)(const char *, int, const char *,
			    const char *, int);
	void		(*set_errors)(xmlTextReaderPtr,
			    xmlStructuredErrorFunc, void *);
	int		(*read)(xmlTextReaderPtr);
	int		(*node_type)(xmlTextReaderPtr);
	int		(*depth)(xmlTextReaderPtr);
	const xmlChar	*(*local_name)(xmlTextReaderPtr);
	const xmlChar	*(*value)(xmlTextReaderPtr);
	int		(*is_empty)(xmlTextReaderPtr);
	void		(*free_reader)(xmlTextReaderPtr);
	/* writer (dmarc_agg.c) */
	xmlBufferPtr	(*buffer_create)(void);
	void		(*buffer_free)(xmlBufferPtr);
	const xmlChar	*(*buffer_content)(const xmlBuffer *);
	int		(*buffer_length)(const xmlBuffer *);
	xmlTextWriterPtr (*writer_memory)(xmlBufferPtr, int);
	void		(*free_writer)(xmlTextWriterPtr);
	int		(*set_indent)(xmlTextWriterPtr, int);
	int		(*start_document)(xmlTextWriterPtr, const char *,
			    const char *, const char *);
	int		(*end_document)(xmlTextWriterPtr);
	int		(*start_element)(xmlTextWriterPtr, const xmlChar *);
	int		(*start_element_ns)(xmlTextWriterPtr, const xmlChar *,
			    const xmlChar *, const xmlChar *);
	int		(*end_element)(xmlTextWriterPtr);
	int		(*write_element)(xmlTextWriterPtr, const xmlChar *,
			    const xmlChar *);
};

/*
 * The functions, loaded and libxml2 initialised once per process
 * (thread-safe: xmlInitParser must not race); NULL if libxml2.so.2 or
 * one of them is missing.
 */
const struct xmllib *xmllib_get(void);

#endif
