"""Shared by the moat-link test scripts: a hand-made vhost-user frontend
that sets up a queue pair the way QEMU would over a memfd, puts frames on
its transmit ring and buffers on its receive ring, and reads what the link
did with them (it plays well or badly as a test asks); the stats socket;
TAP output."""
import json
import mmap
import os
import pwd
import socket
import struct
import subprocess
import sys
import time

UVA, GPA, MEM, NUM = 0x7F0000000000, 0x100000, 1 << 20, 256
RINGS = {0: (0x0, 0x1000, 0x2000), 1: (0x4000, 0x5000, 0x6000)}
DATA = 0x10000      # transmit frames, 128 bytes a slot
RXBUF = 0x40000     # receive buffers, 2048 bytes a slot
EVENTFD_MAX = 0xFFFFFFFFFFFFFFFE


def msg(req, payload=b"", flags=1):
    return struct.pack("<III", req, flags, len(payload)) + payload


def send(sock, req, payload=b"", fds=()):
    data = msg(req, payload)
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.sendall(data)


def recv_reply(sock):
    hdr = sock.recv(12)
    _, _, size = struct.unpack("<III", hdr)
    return sock.recv(size)


class Frontend:
    def __init__(self, path, features=1 << 32, calls=None, kicks=None, mem_fd=None, mem=MEM):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(3)
        self.sock.connect(path)
        self.fd = mem_fd if mem_fd is not None else os.memfd_create("guest")
        if mem_fd is None:
            os.ftruncate(self.fd, mem)
        self.mem = mmap.mmap(self.fd, MEM)
        self.kicks = kicks or [os.eventfd(0), os.eventfd(0)]
        self.calls = calls or [os.eventfd(0, os.EFD_NONBLOCK), os.eventfd(0, os.EFD_NONBLOCK)]
        self.avail = 0
        self.rx_avail = 0
        send(self.sock, 1)
        offered = struct.unpack("<Q", recv_reply(self.sock))[0]
        send(self.sock, 2, struct.pack("<Q", offered & features))
        try:
            self.mem_table([(GPA, mem, UVA, 0)], [self.fd])
            for q, (desc, avail, used) in RINGS.items():
                send(self.sock, 8, struct.pack("<II", q, NUM))
                send(self.sock, 10, struct.pack("<II", q, 0))
                send(self.sock, 9, struct.pack("<IIQQQQ", q, 0, UVA + desc, UVA + used, UVA + avail, 0))
                send(self.sock, 13, struct.pack("<Q", q), [self.calls[q]])
                send(self.sock, 12, struct.pack("<Q", q), [self.kicks[q]])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the link refused our setup and hung up: closed_by_link() says so

    def sync(self):
        """returns once the link has handled every message sent before"""
        send(self.sock, 1)
        recv_reply(self.sock)

    def mem_table(self, regions, fds):
        payload = struct.pack("<II", len(regions), 0)
        for gpa, size, uva, off in regions:
            payload += struct.pack("<QQQQ", gpa, size, uva, off)
        send(self.sock, 5, payload, fds)

    def transmit(self, length=60, count=1, addrs=None):
        """count frames on the transmit ring, one index update, no kick;
        addrs: where each frame goes in guest memory"""
        desc, avail, _ = RINGS[1]
        for i in range(len(addrs) if addrs else count):
            slot = self.avail % NUM
            at = addrs[i] if addrs else DATA + 128 * (slot % 64)
            self.mem[at:at + 12 + length] = bytes(12) + b"\xab" * length
            struct.pack_into("<QIHH", self.mem, desc + 16 * slot, GPA + at, 12 + length, 0, 0)
            struct.pack_into("<H", self.mem, avail + 4 + 2 * slot, slot)
            self.avail += 1
        struct.pack_into("<H", self.mem, avail + 2, self.avail & 0xFFFF)

    def post_rx(self, count=8, size=2048, kick=True):
        desc, avail, _ = RINGS[0]
        for _ in range(count):
            slot = self.rx_avail % NUM
            struct.pack_into("<QIHH", self.mem, desc + 16 * slot, GPA + RXBUF + size * slot, size, 2, 0)
            struct.pack_into("<H", self.mem, avail + 4 + 2 * slot, slot)
            self.rx_avail += 1
        struct.pack_into("<H", self.mem, avail + 2, self.rx_avail & 0xFFFF)
        if kick:
            os.eventfd_write(self.kicks[0], 1)

    def rx_used(self):
        return struct.unpack_from("<H", self.mem, RINGS[0][2] + 2)[0]

    def received(self):
        """frames the link has put in our receive ring, as (len, data)"""
        _, _, used = RINGS[0]
        out = []
        for i in range(self.rx_used()):
            head, length = struct.unpack_from("<II", self.mem, used + 4 + 8 * (i % NUM))
            base = RXBUF + 2048 * head
            out.append((length, bytes(self.mem[base:base + length])))
        return out

    def called(self, q):
        try:
            return os.eventfd_read(self.calls[q])
        except BlockingIOError:
            return 0

    def avail_event(self, q):
        return struct.unpack_from("<H", self.mem, RINGS[q][2] + 4 + 8 * NUM)[0]

    def set_used_event(self, q, idx):
        struct.pack_into("<H", self.mem, RINGS[q][1] + 4 + 2 * NUM, idx)

    def set_avail_idx(self, idx):
        struct.pack_into("<H", self.mem, RINGS[1][1] + 2, idx)

    def used_idx(self):
        return struct.unpack_from("<H", self.mem, RINGS[1][2] + 2)[0]

    def kick(self):
        os.eventfd_write(self.kicks[1], 1)

    def closed_by_link(self, seconds=3):
        try:
            self.sock.settimeout(seconds)
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()
        self.mem.close()
        for fd in {self.fd, *self.kicks, *self.calls}:
            try:
                os.close(fd)
            except OSError:
                pass


def stat(path, key):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(3)
    s.connect(path)
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    s.close()
    v = json.loads(data)
    for k in key.split("."):
        v = v[k]
    return v


def wait(pred, seconds=5):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def passes_frame(sender, receiver):
    """one frame from sender reaches receiver (whose ring is topped up)"""
    before = receiver.rx_used()
    sender.transmit()
    sender.kick()
    got = wait(lambda: receiver.rx_used() == (before + 1) & 0xFFFF, 3)
    if receiver.rx_avail - receiver.rx_used() < 8:
        receiver.post_rx(32)
    return got


def link_user():
    """the unprivileged user links run as (netctl's PRIV_USER_LINK),
    created here if missing"""
    if subprocess.run(["id", "moat-link"], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "moat-link"], check=True)
        print("# created the system user moat-link", flush=True)
    return pwd.getpwnam("moat-link")


_tap_n = 0


def tap(good, what, note=""):
    """one TAP line, and a comment line with what was measured"""
    global _tap_n
    _tap_n += 1
    print(f"{'ok' if good else 'not ok'} {_tap_n} - {what}", flush=True)
    if note:
        print(f"# {note}", flush=True)


def tap_done():
    """the plan, after the last test: a script that stops early has none"""
    print(f"1..{_tap_n}", flush=True)


def skip_all(why):
    """the whole script cannot run here"""
    print(f"1..0 # SKIP {why}", flush=True)
    sys.exit(0)
