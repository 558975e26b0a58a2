#!/usr/bin/env python3
"""Writes a large Ethernet pcap of CDN-like traffic to an origin, for Scripts/bench-evidence.

    Scripts/generate-capture.py OUT.pcap [MEGABYTES]   (default 1100)

Connections from the test's "CDN" (192.0.2.0/24, 198.51.100.0/24) and from visitors
(203.0.113.0/24) to 10.98.0.1 on 80 and 443, 64 open at a time and interleaved: most answered
(handshake, request, a response of 1-12 full segments, close), some dropped (a SYN and its
retransmissions), some reset, some left silent. Written by us from nothing: no real traffic.
"""
import random
import struct
import sys

out = sys.argv[1]
target = int(sys.argv[2]) * 1024 * 1024 if len(sys.argv) > 2 else 1100 * 1024 * 1024
rng = random.Random(20261204)
ORIGIN = bytes([10, 98, 0, 1])
ETH = bytes.fromhex("020000000001" "020000000002" "0800")


def checksumless_ip(src, dst, payload_len):
    total = 20 + payload_len
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)


def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: www.example.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
RESPONSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
BODY = bytes(1400)


def connection(n):
    """The packets of one connection, as (direction, tcp bytes); direction 0 client->origin."""
    kind = rng.random()
    client_port = 32768 + n % 28000
    port = 443 if n % 3 == 0 else 80
    isn, osn = rng.getrandbits(32), rng.getrandbits(32)
    packets = [(0, tcp(client_port, port, isn, 0, SYN))]
    if kind < 0.05:  # dropped: retransmissions
        packets += [(0, tcp(client_port, port, isn, 0, SYN))] * 3
        return port, packets
    if kind < 0.08:  # refused
        packets.append((1, tcp(port, client_port, 0, isn + 1, RST | ACK)))
        return port, packets
    packets.append((1, tcp(port, client_port, osn, isn + 1, SYN | ACK)))
    packets.append((0, tcp(client_port, port, isn + 1, osn + 1, ACK)))
    packets.append((0, tcp(client_port, port, isn + 1, osn + 1, PSH | ACK, REQUEST)))
    if kind < 0.10:  # silent
        return port, packets
    seq = osn + 1
    first = RESPONSE_HEAD + BODY[: 1400 - len(RESPONSE_HEAD)]
    packets.append((1, tcp(port, client_port, seq, isn + 1 + len(REQUEST), PSH | ACK, first)))
    seq += len(first)
    for _ in range(rng.randint(0, 11)):
        packets.append((1, tcp(port, client_port, seq, isn + 1 + len(REQUEST), ACK, BODY)))
        seq += len(BODY)
    packets.append((0, tcp(client_port, port, isn + 1 + len(REQUEST), seq, ACK)))
    packets.append((1, tcp(port, client_port, seq, isn + 1 + len(REQUEST), FIN | ACK)))
    packets.append((0, tcp(client_port, port, isn + 1 + len(REQUEST), seq + 1, FIN | ACK)))
    packets.append((1, tcp(port, client_port, seq + 1, isn + 2 + len(REQUEST), ACK)))
    return port, packets


def client_address(n):
    pick = n % 10
    if pick < 5:
        return bytes([192, 0, 2, 1 + n % 250])
    if pick < 9:
        return bytes([198, 51, 100, 1 + n % 250])
    return bytes([203, 0, 113, 1 + n % 250])


with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    written, n, t = 24, 0, 1_700_000_000 * 1_000_000
    live = []
    while written < target:
        while len(live) < 64:
            client = client_address(n)
            _, packets = connection(n)
            live.append([client, packets, 0])
            n += 1
        i = rng.randrange(len(live))
        client, packets, at = live[i]
        direction, segment = packets[at]
        src, dst = (client, ORIGIN) if direction == 0 else (ORIGIN, client)
        frame = ETH + checksumless_ip(src, dst, len(segment)) + segment
        t += 50
        f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), len(frame)))
        f.write(frame)
        written += 16 + len(frame)
        live[i][2] += 1
        if live[i][2] == len(packets):
            live.pop(i)
print(f"{out}: {written / 1e6:.0f} MB, {n} connections")
