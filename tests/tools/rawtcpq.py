#!/usr/bin/env python3
"""rawtcpq.py SRC DST NAME QTYPE: one DNS query over a TCP connection
driven from a raw socket (run where outgoing RSTs are dropped). The reply
arrives whole in one full-size segment; we acknowledge all of it but its last
42 bytes, so the server's retransmission carries exactly those: the segment
boundary is the receiver's choice whatever the MSS. Prints what happened."""
import os, random, socket, struct, sys, time

src, dst, name, qtype = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
TAIL = 42


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def seg(sport, seq, ack, flags, win, payload=b"", opts=b""):
    off = (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, 53, seq, ack, off << 4, flags, win, 0, 0) + opts
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(h) + len(payload))
    c = csum(ph + h + payload)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload


s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.settimeout(0.2)
sport, isn = random.randint(40000, 60000), random.getrandbits(32)


def send(*a, **k):
    s.sendto(seg(sport, *a, **k), (dst, 0))


def recv(deadline):
    while time.time() < deadline:
        try:
            pkt = s.recv(65535)
        except socket.timeout:
            continue
        hl = (pkt[0] & 15) * 4
        if socket.inet_ntoa(pkt[12:16]) != dst:
            continue
        t = pkt[hl:]
        sp, dp, seq, ack, off, flags = struct.unpack("!HHIIBB", t[:14])
        if sp != 53 or dp != sport:
            continue
        return seq, ack, flags, t[(off >> 4) * 4:]
    return None


q = struct.pack(">HHHHHH", random.getrandbits(16), 0x0100, 1, 0, 0, 0)
for l in name.split("."):
    q += bytes([len(l)]) + l.encode()
q += b"\0" + struct.pack(">HH", qtype, 1)
q = struct.pack(">H", len(q)) + q

send(isn, 0, 0x02, 65535, opts=struct.pack("!BBH", 2, 4, 1460))
r = recv(time.time() + 3)
if not r or r[2] & 0x12 != 0x12:
    sys.exit("no SYN-ACK")
y = r[0]
send(isn + 1, y + 1, 0x10, 65535)
send(isn + 1, y + 1, 0x18, 65535, q)
data, segs = b"", []
end = time.time() + 5
while time.time() < end:
    r = recv(end)
    if not r:
        break
    seq, _, flags, pl = r
    if pl and seq - (y + 1) == len(data):
        data += pl
        segs.append(len(pl))
    if len(data) >= 2 and len(data) >= 2 + struct.unpack(">H", data[:2])[0]:
        break
if len(data) < TAIL:
    sys.exit("reply too short: %d" % len(data))
print("reply %d bytes in segments %s" % (len(data), segs))
# all but the tail: the retransmission begins where our ACK ends
send(isn + 1 + len(q), y + 1 + len(data) - TAIL, 0x10, 65535)
end = time.time() + 4
while time.time() < end:
    r = recv(end)
    if r and r[3]:
        print("retransmitted %d bytes from stream offset %d" % (len(r[3]), r[0] - (y + 1)))
        break
try:
    send(isn + 1 + len(q), y + 1 + len(data), 0x14, 0)   # RST|ACK: done
except OSError:
    pass   # our own RSTs are dropped where this runs
