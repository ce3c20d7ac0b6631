#!/usr/bin/env python3
"""craft.py: the packets a hostile app VM sends, for the attack tests.

Run inside a test namespace (ip netns exec ...):
  craft.py icmperr DST QSRC QSPORT QDST QDPORT [tcp|udp] MARKER
      an ICMP destination-unreachable (port) to DST quoting a packet
      QSRC:QSPORT -> QDST:QDPORT, with MARKER after the quoted header
  craft.py icmp6err DST QSRC QSPORT QDST QDPORT MARKER
      the same in ICMPv6 (destination unreachable, port), quoting TCP
  craft.py sniff IFACE SECONDS MARKER
      prints "seen" if a frame holding MARKER crosses IFACE (either way)
      within SECONDS, else "none"
  craft.py decline SERVER CHADDR ADDRESS
      a DHCPDECLINE of ADDRESS carrying CHADDR, sent to SERVER:67
  craft.py relay SERVER CHADDR GIADDR MARKER
      a DHCPDISCOVER carrying the sender's own CHADDR but a relay agent
      address GIADDR and MARKER in option 82 (what a relay would add)
  craft.py dhcp4 SERVER TYPE CHADDR CLID
      a DHCPDISCOVER (TYPE discover) or DHCPREQUEST (TYPE request, of the
      address the discover before it was offered) carrying CHADDR and, unless
      CLID is "none", option 61 holding the bytes CLID spells in hex, sent
      from port 68 to SERVER:67. Prints the answer ("offer A", "ack A",
      "nak") or "no-answer"
  craft.py udp SRC SPORT DST DPORT MARKER
      one UDP datagram SRC:SPORT -> DST:DPORT holding MARKER, from a raw
      socket (so SPORT may be a port a server of this namespace holds)
  craft.py dhcp6 IFACE SRC TYPE DUIDMAC IAID [ADDRESS]
      a DHCPv6 message of TYPE (solicit, request, renew, rebind, release,
      decline, inform) from SRC (a link-local address of IFACE) to ff02::1:2, with
      a DUID-LL naming DUIDMAC and one IA_NA IAID (holding ADDRESS if
      given); a solicit asks for rapid commit. Prints the reply's addresses
      and status codes ("addr A", "status N"), or "no-answer"
  craft.py udpflow SPORT DST DPORT SECONDS MARKER
      keeps a UDP flow SPORT -> DST:DPORT alive for SECONDS and prints how
      many datagrams holding MARKER came back on it
  craft.py spoof IFACE MYMAC FWMAC SRC SPORT DST DPORT MARKER SECONDS
      floods frames on IFACE (to FWMAC): UDP SRC:SPORT -> DST:DPORT holding
      MARKER, whatever SRC says, for SECONDS
  craft.py session HOST PORT CTLFIFO
      a TCP session to HOST:PORT driven line by line from CTLFIFO: each line
      is sent, and "echo LINE" or "stalled LINE" is printed (2 s to answer);
      "quit" ends it. Prints "open SPORT" once connected.
"""
import os
import select
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_header(src, dst, proto, payload_len):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0x1234, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]


def icmperr(dst, qsrc, qsport, qdst, qdport, proto, marker):
    pnum = socket.IPPROTO_TCP if proto == "tcp" else socket.IPPROTO_UDP
    if pnum == socket.IPPROTO_TCP:
        l4 = struct.pack("!HHI", int(qsport), int(qdport), 0x01020304)
    else:
        l4 = struct.pack("!HHHH", int(qsport), int(qdport), 8 + 64, 0)
    quoted = ipv4_header(qsrc, qdst, pnum, len(l4) + 64) + l4
    body = quoted + marker.encode().ljust(64, b".")   # the length the quote claims
    msg = struct.pack("!BBHI", 3, 3, 0, 0) + body
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    for _ in range(3):
        s.sendto(msg, (dst, 0))
        time.sleep(0.1)


def icmp6err(dst, qsrc, qsport, qdst, qdport, marker):
    l4 = struct.pack("!HHI", int(qsport), int(qdport), 0x01020304)
    pad = marker.encode().ljust(64, b".")
    quoted = struct.pack("!IHBB16s16s", 6 << 28, len(l4) + len(pad), socket.IPPROTO_TCP, 64,
                         socket.inet_pton(socket.AF_INET6, qsrc),
                         socket.inet_pton(socket.AF_INET6, qdst)) + l4 + pad
    msg = struct.pack("!BBHI", 1, 4, 0, 0) + quoted   # the kernel sums ICMPv6
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    for _ in range(3):
        s.sendto(msg, (dst, 0))
        time.sleep(0.1)


def sniff(iface, seconds, marker):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))   # ETH_P_ALL
    s.bind((iface, 0))
    end = time.time() + float(seconds)
    want = marker.encode()
    print("listening", flush=True)
    while time.time() < end:
        r, _, _ = select.select([s], [], [], max(0, end - time.time()))
        if r and want in s.recv(65535):
            print("seen")
            return
    print("none")


def decline(server, chaddr, address):
    mac = bytes(int(x, 16) for x in chaddr.split(":"))
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x6d6f6174, 0, 0,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac.ljust(16, b"\0"),
                        b"", b"")
    opts = bytes([99, 130, 83, 99, 53, 1, 4, 50, 4]) + socket.inet_aton(address)
    opts += bytes([54, 4]) + socket.inet_aton(server) + bytes([255])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", 68))
    for _ in range(3):
        s.sendto(bootp + opts, (server, 67))
        time.sleep(0.1)


def relay(server, chaddr, giaddr, marker):
    mac = bytes(int(x, 16) for x in chaddr.split(":"))
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 1, 0x6d6f6175, 0, 0,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, socket.inet_aton(giaddr),
                        mac.ljust(16, b"\0"), b"", b"")
    m = marker.encode()[:200]
    opts = bytes([99, 130, 83, 99, 53, 1, 1, 82, len(m) + 2, 1, len(m)]) + m + bytes([255])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", 68))
    for _ in range(3):
        s.sendto(bootp + opts, (server, 67))
        time.sleep(0.1)


def dhcp4_send(s, server, mtype, mac, clid, xid, opts):
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac.ljust(16, b"\0"),
                        b"", b"")
    o = bytes([99, 130, 83, 99, 53, 1, mtype]) + opts
    if clid != "none":
        c = bytes.fromhex(clid)
        o += bytes([61, len(c)]) + c
    s.sendto(bootp + o + bytes([255]), (server, 67))


def dhcp4_answer(s, xid):
    """(type, yiaddr) of the server's answer to XID, or None within 2 s."""
    end = time.time() + 2
    while time.time() < end:
        r, _, _ = select.select([s], [], [], max(0, end - time.time()))
        if not r:
            break
        data = s.recv(1500)
        if len(data) < 240 or data[0] != 2 or struct.unpack("!I", data[4:8])[0] != xid:
            continue
        opts, i, mtype = data[240:], 0, 0
        while i + 1 < len(opts) and opts[i] != 255:
            if opts[i] == 0:
                i += 1
                continue
            if opts[i] == 53 and opts[i + 1] == 1 and i + 2 < len(opts):
                mtype = opts[i + 2]
            i += 2 + opts[i + 1]
        return mtype, socket.inet_ntoa(data[16:20])
    return None


def dhcp4(server, what, chaddr, clid):
    mac = bytes(int(x, 16) for x in chaddr.split(":"))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.bind(("", 68))
    xid = int.from_bytes(os.urandom(4), "big")
    dhcp4_send(s, server, 1, mac, clid, xid, b"")
    got = dhcp4_answer(s, xid)
    if got and what == "request":
        xid = int.from_bytes(os.urandom(4), "big")
        opts = bytes([50, 4]) + socket.inet_aton(got[1]) + bytes([54, 4]) + socket.inet_aton(server)
        dhcp4_send(s, server, 3, mac, clid, xid, opts)
        got = dhcp4_answer(s, xid)
    names = {2: "offer", 5: "ack", 6: "nak"}
    if not got:
        print("no-answer")
    elif got[0] == 6:
        print("nak")
    else:
        print(names.get(got[0], "type%d" % got[0]), got[1])


def udp(src, sport, dst, dport, marker):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    s.bind((src, 0))
    data = marker.encode()
    s.sendto(struct.pack(">HHHH", int(sport), int(dport), 8 + len(data), 0) + data, (dst, 0))


DHCP6_TYPES = {"solicit": 1, "request": 3, "renew": 5, "rebind": 6, "release": 8, "decline": 9,
               "inform": 11}


def dhcp6_opt(code, data):
    return struct.pack(">HH", code, len(data)) + data


def dhcp6_option(buf, want):
    p = 0
    while p + 4 <= len(buf):
        code, ln = struct.unpack(">HH", buf[p:p + 4])
        if code == want:
            return buf[p + 4:p + 4 + ln]
        p += 4 + ln
    return None


def dhcp6_reply(data):
    """The addresses and status codes of a DHCPv6 reply, as lines."""
    out = []
    def walk(buf):
        p = 0
        while p + 4 <= len(buf):
            code, ln = struct.unpack(">HH", buf[p:p + 4])
            body, p = buf[p + 4:p + 4 + ln], p + 4 + ln
            if code == 3:                     # IA_NA: IAID, T1, T2, options
                walk(body[12:])
            elif code == 5 and len(body) >= 24:   # IAADDR: address, lifetimes, options
                valid = struct.unpack(">I", body[20:24])[0]
                out.append("addr %s%s" % (socket.inet_ntop(socket.AF_INET6, body[:16]),
                                          "" if valid else " valid 0"))
                walk(body[24:])
            elif code == 13 and len(body) >= 2:   # status code
                out.append("status %d" % struct.unpack(">H", body[:2]))
    walk(data[4:])
    return out


def dhcp6(iface, src, mtype, duidmac, iaid, address=None):
    mac = bytes(int(x, 16) for x in duidmac.split(":"))
    server = None
    ia = struct.pack(">III", int(iaid), 0, 0)
    if address:
        ia += dhcp6_opt(5, socket.inet_pton(socket.AF_INET6, address) + struct.pack(">II", 0, 0))
    opts = dhcp6_opt(1, struct.pack(">HH", 3, 1) + mac) + dhcp6_opt(3, ia) + dhcp6_opt(8, b"\0\0")
    if mtype == "solicit":
        opts += dhcp6_opt(14, b"")            # rapid commit
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    scope = socket.if_nametoindex(iface)
    s.bind((src, 546, 0, scope))
    s.settimeout(1)
    if mtype in ("request", "renew", "release", "decline"):
        # these name the server: ask its DUID first (a solicit, no commit)
        for _ in range(3):
            s.sendto(b"\1" + os.urandom(3) + opts, ("ff02::1:2", 547, 0, scope))
            try:
                data = s.recv(2048)
            except socket.timeout:
                continue
            server = dhcp6_option(data[4:], 2)
            break
    for _ in range(3):
        msg = bytes([DHCP6_TYPES[mtype]]) + os.urandom(3) + opts
        if server and mtype in ("request", "renew", "release", "decline"):
            msg += dhcp6_opt(2, server)
        s.sendto(msg, ("ff02::1:2", 547, 0, scope))
        try:
            data = s.recv(2048)
        except socket.timeout:
            continue
        print("\n".join(dhcp6_reply(data)) or "empty")
        return
    print("no-answer")


def udpflow(sport, dst, dport, secs, marker):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(sport)))
    s.settimeout(0.05)
    got, end, last = 0, time.time() + float(secs), 0.0
    while time.time() < end:
        if time.time() - last > 0.2:
            s.sendto(b"keepalive", (dst, int(dport)))
            last = time.time()
        try:
            if marker.encode() in s.recv(2048):
                got += 1
        except socket.timeout:
            pass
    print(got)


def spoof(iface, mymac, fwmac, src, sport, dst, dport, marker, secs):
    mac = lambda m: bytes.fromhex(m.replace(":", ""))
    data = marker.encode()
    sa, da = socket.inet_aton(src), socket.inet_aton(dst)
    udp = struct.pack(">HHHH", int(sport), int(dport), 8 + len(data), 0) + data
    udp = udp[:6] + struct.pack(">H", csum(sa + da + struct.pack(">BBH", 0, 17, len(udp)) + udp)) + udp[8:]
    frame = mac(fwmac) + mac(mymac) + b"\x08\x00" + ipv4_header(src, dst, 17, len(udp)) + udp
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    end = time.time() + float(secs)
    while time.time() < end:
        for _ in range(100):
            try:
                s.send(frame)
            except OSError:   # the link is down for a moment: go on
                time.sleep(0.01)


def session(host, port, ctl):
    s = socket.create_connection((host, int(port)), timeout=3)
    print("open", s.getsockname()[1], flush=True)
    got = b""   # a line sent during a stall may be echoed later: keep all
    with open(ctl) as f:
        for line in f:
            line = line.strip()
            if line == "quit":
                break
            s.sendall(line.encode() + b"\n")
            want = b"\n" + line.encode() + b"\n"
            end = time.time() + 2
            while want not in b"\n" + got and time.time() < end:
                r, _, _ = select.select([s], [], [], max(0, end - time.time()))
                if not r:
                    break
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            print(("echo " if want in b"\n" + got else "stalled ") + line, flush=True)


def main():
    commands = {"icmperr": icmperr, "icmp6err": icmp6err, "sniff": sniff, "decline": decline,
                "relay": relay, "dhcp4": dhcp4, "udp": udp, "dhcp6": dhcp6, "udpflow": udpflow, "spoof": spoof,
                "session": session}
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd not in commands:
        sys.exit("craft.py: unknown command " + cmd)
    commands[cmd](*args)


if __name__ == "__main__":
    main()
