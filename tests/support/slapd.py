"""A throw-away OpenLDAP server for the directory-login tests: Debian's ``slapd`` on loopback, on a free port, with
its own generated ``slapd.conf`` and database in a temporary folder, loaded with ``slapadd`` before it starts.

It never reads ``/etc/ldap/slapd.d`` and never touches the package's own service (which listens on 389, if it
runs at all), so a machine where ``apt-get install slapd`` started that service is no different.
"""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SLAPD = shutil.which("slapd") or ("/usr/sbin/slapd" if os.access("/usr/sbin/slapd", os.X_OK) else None)
SLAPADD = shutil.which("slapadd") or ("/usr/sbin/slapadd" if os.access("/usr/sbin/slapadd", os.X_OK) else None)
SCHEMA = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")
SUFFIX = "dc=court,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret"


def missing() -> str | None:
    """Why the server cannot start here, or None."""
    if not SLAPD or not SLAPADD:
        return "slapd is not installed (apt-get install slapd ldap-utils; .ci/run does)"
    if not (SCHEMA / "inetorgperson.schema").exists():
        return f"OpenLDAP schema files not found in {SCHEMA}"
    return None


def missing_tls() -> str | None:
    """Why the TLS server cannot start here (openssl makes its certificates), or None."""
    return missing() or (None if shutil.which("openssl") else "openssl is not installed (it makes the certificates)")


def ssha(password: str) -> str:
    """The ``{SSHA}`` form slapd checks a simple bind against (so the test directory stores no clear passwords)."""
    salt = os.urandom(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Slapd:
    """``start()`` writes the config, loads ``ldif`` and runs slapd in the foreground of a child process;
    ``stop()`` ends that child (by its own pid) and waits for it."""

    def __init__(self, folder: Path, ldif: str, tls: bool = False):
        self.folder = Path(folder)
        self.ldif = ldif
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.tls = tls
        self.ldaps_url = f"ldaps://127.0.0.1:{free_port()}" if tls else None
        self.ca_file = self.folder / "ca.pem" if tls else None
        self.process: subprocess.Popen | None = None

    def _certificates(self) -> str:
        """A CA of its own and a certificate for 127.0.0.1 signed by it (openssl): the tests give zhixing the CA
        file, or leave it out to see an untrusted certificate refused."""
        f = self.folder
        run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=f)  # noqa: E731
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=zhixing test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr")
        (f / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.pem")
        return (f"TLSCACertificateFile {f / 'ca.pem'}\nTLSCertificateFile {f / 'server.pem'}\n"
                f"TLSCertificateKeyFile {f / 'server.key'}\n")

    def _config(self) -> Path:
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "slapd.conf"
        schemas = "".join(f"include {SCHEMA / name}.schema\n" for name in ("core", "cosine", "inetorgperson", "nis"))
        conf.write_text(
            schemas
            + f"pidfile {self.folder / 'slapd.pid'}\nargsfile {self.folder / 'slapd.args'}\n"
            + (self._certificates() if self.tls else "")
            + (f"modulepath {MODULES}\nmoduleload back_mdb\n" if (MODULES / "back_mdb.la").exists() else "")
            + f'database mdb\nmaxsize 16777216\nsuffix "{SUFFIX}"\nrootdn "{ROOT_DN}"\nrootpw {ROOT_PW}\n'
            + f"directory {data}\n"
            # like a court's directory: passwords are only ever used to bind; reading needs a bound user
            + "access to attrs=userPassword by self write by anonymous auth by * none\n"
            + "access to * by users read by anonymous auth by * none\n")
        return conf

    def start(self) -> Slapd:
        conf = self._config()
        (self.folder / "data.ldif").write_text(self.ldif, encoding="utf-8")
        subprocess.run([SLAPADD, "-q", "-f", str(conf), "-l", str(self.folder / "data.ldif")], check=True,
                       capture_output=True)
        for attempt in range(3):          # the free port may be taken between choosing it and slapd binding it
            try:
                self._run(conf)
                return self
            except RuntimeError:
                if attempt == 2:
                    raise
                self.port = free_port()
                self.url = f"ldap://127.0.0.1:{self.port}"
                if self.tls:
                    self.ldaps_url = f"ldaps://127.0.0.1:{free_port()}"
        return self

    def _run(self, conf: Path) -> None:
        log = open(self.folder / "slapd.log", "ab")
        # -d 0: stay in the foreground (our child, ended by its pid), log nothing but errors
        listen = f"{self.url}/" + (f" {self.ldaps_url}/" if self.tls else "")
        self.process = subprocess.Popen([SLAPD, "-d", "0", "-f", str(conf), "-h", listen],
                                        stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited with {self.process.returncode}: "
                                   + (self.folder / "slapd.log").read_text(errors="replace")[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not accept connections within 15 s")

    def restart(self) -> None:
        """Start again on the same port with the same data (after ``stop``): the directory comes back."""
        self._run(self.folder / "slapd.conf")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
