#!/usr/bin/env python3
"""dnsq.py: DNS helpers for tests/netns/dns-attacks (run in a namespace).
  tcpq SERVER NAME QTYPE MSS      one query over TCP with TCP_MAXSEG=MSS (0: default);
                                  prints the reply's length (0: none)
  flood SERVER SUFFIX RATE SECS   distinct names under SUFFIX, RATE a second, one source port
  holdtcp SERVER COUNT SECS       COUNT idle TCP connections to SERVER:53, held SECS
  dmsend PID PORT DST DPORT MSG   send MSG to DST:DPORT on the UDP socket PID holds bound to
                                  PORT, then as PID's uid (what a compromised dnsmasq does)
"""
import ctypes, os, socket, struct, sys, time


def query(name, qtype, qid=None):
    q = struct.pack(">HHHHHH", qid if qid is not None else int.from_bytes(os.urandom(2), "big"),
                    0x0100, 1, 0, 0, 0)
    for l in name.split("."):
        q += bytes([len(l)]) + l.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def tcpq(server, name, qtype, mss):
    q = query(name, int(qtype))
    s = socket.socket()
    if int(mss):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, int(mss))
    s.settimeout(5)
    buf = b""
    try:
        s.connect((server, 53))
        s.sendall(struct.pack(">H", len(q)) + q)
        while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
            d = s.recv(4096)
            if not d:
                break
            buf += d
    except OSError:
        pass
    print(len(buf))


def flood(server, suffix, rate, secs):
    rate, secs = float(rate), float(secs)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    i, t0 = 0, time.time()
    while time.time() - t0 < secs:
        s.sendto(query("n%d-%s.%s" % (i, os.urandom(3).hex(), suffix), 1, i & 0xffff), (server, 53))
        i += 1
        try:
            while True:
                s.recv(2048)
        except BlockingIOError:
            pass
        time.sleep(max(0, t0 + i / rate - time.time()))
    print(i)


def holdtcp(server, count, secs):
    socks = []
    for _ in range(int(count)):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((server, 53))
            socks.append(s)
        except OSError:
            pass
    print(len(socks), flush=True)
    time.sleep(float(secs))


def dmsend(pid, port, dst, dport, msg):
    pid, port = int(pid), int(port)
    libc = ctypes.CDLL(None, use_errno=True)
    pfd = os.pidfd_open(pid)
    for fd in sorted(int(f) for f in os.listdir("/proc/%d/fd" % pid)):
        nfd = libc.syscall(438, pfd, fd, 0)   # pidfd_getfd
        if nfd < 0:
            continue
        try:
            s = socket.socket(fileno=nfd)
        except OSError:
            os.close(nfd)
            continue
        if s.type == socket.SOCK_DGRAM and s.family == socket.AF_INET and s.getsockname()[1] == port:
            break
        s.detach()
        os.close(nfd)
    else:
        sys.exit("no UDP socket on port %d in pid %d" % (port, pid))
    st = os.stat("/proc/%d" % pid)
    os.setgroups([])
    os.setgid(st.st_gid)
    os.setuid(st.st_uid)
    for _ in range(3):
        s.sendto(msg.encode(), (dst, int(dport)))
        time.sleep(0.05)
    print("sent as uid %d from %s" % (os.getuid(), s.getsockname()))


if __name__ == "__main__":
    {"tcpq": tcpq, "flood": flood, "holdtcp": holdtcp, "dmsend": dmsend}[sys.argv[1]](*sys.argv[2:])
