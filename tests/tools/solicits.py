#!/usr/bin/env python3
# solicits.py IFACE MAC COUNT RATE: DHCPv6 solicits to ff02::1:2 from COUNT different link-local sources, at RATE a second
import os, socket, struct, sys, time
iface, mymac, count, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
mac = bytes.fromhex(mymac.replace(":", ""))
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
dst = socket.inet_pton(socket.AF_INET6, "ff02::1:2")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((iface, 0))
t0 = time.time()
for i in range(count):
    src = socket.inet_pton(socket.AF_INET6, "fe80::%x:%x" % (0x1000 + i // 65536, i % 65536 + 1))
    duid = struct.pack(">HH", 3, 1) + os.urandom(6)
    opts = struct.pack(">HH", 1, len(duid)) + duid + struct.pack(">HH", 3, 12) + struct.pack(">III", i, 0, 0) + struct.pack(">HHH", 8, 2, 0)
    msg = bytes([1]) + os.urandom(3) + opts
    udp = struct.pack(">HHHH", 546, 547, 8 + len(msg), 0) + msg
    ph = src + dst + struct.pack(">I", len(udp)) + b"\0\0\0\x11"
    udp = udp[:6] + struct.pack(">H", csum(ph + udp)) + udp[8:]
    ip6 = struct.pack(">IHBB", 6 << 28, len(udp), 17, 1) + src + dst
    s.send(b"\x33\x33\x00\x01\x00\x02" + mac + b"\x86\xdd" + ip6 + udp)
    time.sleep(max(0, t0 + (i + 1) / rate - time.time()))
print("sent", count)
