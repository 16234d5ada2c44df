"""A real redis-server on a free port, for the tests (started and stopped by them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import redis

from .processes import LogWatcher, free_port

KEY_PASSWORD = "k3y:pass-(1)"  # client-locked.key's: characters a URL's query carries as they are


def another_ca(directory: str) -> str:
    """A CA certificate (other.crt in `directory`) that signed none of RedisServer's."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
                    "other.crt", "-days", "1", "-subj", "/CN=another CA"], cwd=directory, check=True, capture_output=True)
    return os.path.join(directory, "other.crt")


class RedisServer:
    def __init__(self, tls: bool = False, client_certs: bool = False) -> None:
        """`client_certs`: TLS that requires a client certificate signed by its CA (client.crt and
        client.key in `dir`; client.pem holds both; client-locked.key, the key encrypted with
        KEY_PASSWORD; stranger.pem, one no CA signed)."""
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="pyb-redis")
        self.tls = tls or client_certs
        self.client_certs = client_certs
        self.ca = os.path.join(self.dir, "ca.crt")
        if self.tls:
            self._make_certificates()
        self.process: subprocess.Popen[str] | None = None
        self.start()

    @property
    def socket(self) -> str:
        """Its Unix socket (plain servers listen on one too)."""
        return os.path.join(self.dir, "redis.sock")

    @property
    def url(self) -> str:
        if self.client_certs:
            return (f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.ca}"
                    f"&ssl_certfile={self.dir}/client.crt&ssl_keyfile={self.dir}/client.key")
        if self.tls:
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.ca}"
        return f"redis://127.0.0.1:{self.port}/0"

    def _make_certificates(self) -> None:
        """A throwaway CA, a server certificate for 127.0.0.1 and, for client_certs, the clients'."""
        d = self.dir
        run = lambda *args: subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)  # noqa: E731
        # Extensions a strict check (X509_V_FLAG_X509_STRICT, Python 3.13's default) wants too.
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=pybroadcast test CA", "-addext", "keyUsage=critical,keyCertSign,cRLSign")

        def signed(name: str, subject: str, extensions: str) -> None:
            run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
            with open(os.path.join(d, f"{name}.cnf"), "w") as f:
                f.write(f"authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n{extensions}")
            run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.cnf")

        signed("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\n"
               "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        if self.client_certs:
            signed("client", "/CN=app", "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
            run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger.key", "-out", "stranger.crt",
                "-days", "2", "-subj", "/CN=stranger")
            run("pkey", "-in", "client.key", "-aes-256-cbc", "-passout", f"pass:{KEY_PASSWORD}", "-out", "client-locked.key")
            for pem in ("client", "stranger"):
                with open(os.path.join(d, f"{pem}.pem"), "w") as out:
                    out.write("".join(open(os.path.join(d, f"{pem}.{part}")).read() for part in ("crt", "key")))

    def start(self) -> None:
        port_args = ["--port", str(self.port)]
        if self.tls:
            port_args = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", f"{self.dir}/server.crt",
                         "--tls-key-file", f"{self.dir}/server.key", "--tls-ca-cert-file", self.ca,
                         "--tls-auth-clients", "yes" if self.client_certs else "no"]
        if not self.tls:
            port_args += ["--unixsocket", self.socket, "--unixsocketperm", "700"]
        self.process = subprocess.Popen(
            [self.binary, *port_args, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--protected-mode", "no"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        LogWatcher(self.process.stdout).wait_for(r"Ready to accept connections", timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as abrupt as a crash; the data (none persisted) is gone
            self.process.wait(10)
        self.process = None

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url.replace("/0", f"/{db}", 1))
