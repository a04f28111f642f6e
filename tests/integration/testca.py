"""A throw-away certificate authority for tests (python3-cryptography).

    import testca
    ca = testca.make_ca(folder)                      # folder/ca.pem, ca.key
    c = testca.issue(ca, folder, "mx1", ["mx1.example.test"],
                     ips=("127.0.0.2",), expired=False)
    # c is a harness.Cert (cert, key paths, kind "ec", pem, fingerprint),
    # like make_cert/make_dated_cert give, so a receiver can present it;
    # trust ca.cert through [delivery] tls_ca or SSL_CERT_FILE.

A certificate for the wrong name is issue(ca, ..., ["other.example"]);
expired=True makes one whose validity ended yesterday; a self-signed one
is still harness.make_cert. Leaf certificates are ECDSA P-256 with the
SANs given (DNS names, then IP addresses), serverAuth, and the key
identifiers OpenSSL uses to build the chain; keys are written mode 0600.

Command line (for C tests):
    testca.py ca FOLDER
    testca.py issue FOLDER NAME DNS[,DNS...] [--ips IP,IP] [--expired]
writes FOLDER/NAME.pem and FOLDER/NAME.key with the CA of FOLDER.
"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness import Cert, write_cert


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def make_ca(folder, name="ca", cn="sealmail test CA"):
    """A self-signed CA certificate and key: folder/ca.pem, folder/ca.key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(days=1))
            .not_valid_after(_now() + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return write_cert(folder, name, cert, key)


def _load_ca(ca):
    with open(ca.cert, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(ca.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return cert, key


def issue(ca, folder, name, dns_names, ips=(), expired=False):
    """A leaf certificate signed by ca (from make_ca) for dns_names and
    ips; expired=True: valid from 30 days ago until yesterday."""
    ca_cert, ca_key = _load_ca(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    names = list(dns_names)
    cn = names[0] if names else name
    sans = [x509.DNSName(n) for n in names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if expired:
        start = _now() - datetime.timedelta(days=30)
        end = _now() - datetime.timedelta(days=1)
    else:
        start = _now() - datetime.timedelta(hours=1)
        end = _now() + datetime.timedelta(days=30)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                     cn)]))
         .issuer_name(ca_cert.subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                        critical=True)
         .add_extension(x509.ExtendedKeyUsage(
             [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(
             key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
             ca_key.public_key()), critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans),
                            critical=False)
    return write_cert(folder, name, b.sign(ca_key, hashes.SHA256()), key)


def main(argv):
    if len(argv) == 3 and argv[1] == "ca":
        c = make_ca(argv[2])
        print(c.cert)
        return 0
    if len(argv) >= 5 and argv[1] == "issue":
        folder, name, dns = argv[2], argv[3], argv[4]
        ips = ()
        expired = "--expired" in argv[5:]
        if "--ips" in argv[5:]:
            ips = argv[argv.index("--ips") + 1].split(",")
        ca = Cert(os.path.join(folder, "ca.pem"),
                  os.path.join(folder, "ca.key"), "ec")
        c = issue(ca, folder, name, [d for d in dns.split(",") if d],
                  ips=ips, expired=expired)
        print(c.cert)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
