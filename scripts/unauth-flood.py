#!/usr/bin/env python3
"""Load generator for scripts/bench-unauth-flood.sh (issue 10, requirement 3).

Opens CONNECTIONS concurrent connections to the CWMP listener at once; each declares a DECLARED
byte body with no Authorization and tries to send SEND bytes of it. Prints one JSON line: how the
connections ended (an early HTTP status, a reset or close by the server, or all bytes sent) and
how many body bytes the server let through in all. Loopback only.
"""
import asyncio
import json
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])
CONNECTIONS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
DECLARED = 16 * 1024 * 1024
SEND = 15 * 1024 * 1024
CHUNK = b"\0" * (64 * 1024)

async def one(results):
    try:
        reader, writer = await asyncio.open_connection(HOST, PORT)
    except OSError as e:
        results["connect_failed"] = results.get("connect_failed", 0) + 1
        return
    head = (f"POST / HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {DECLARED}\r\n\r\n").encode()
    sent = 0
    status = None
    try:
        writer.write(head)
        await writer.drain()
        while sent < SEND:
            writer.write(CHUNK)
            await writer.drain()
            sent += len(CHUNK)
        line = await asyncio.wait_for(reader.readline(), 30)
        status = line.split()[1].decode() if line.startswith(b"HTTP/") else None
    except (ConnectionError, asyncio.TimeoutError, OSError, IndexError):
        pass
    finally:
        writer.close()
    key = f"status_{status}" if status else "closed_by_server"
    results[key] = results.get(key, 0) + 1
    results["body_bytes_sent"] = results.get("body_bytes_sent", 0) + sent
    if sent >= SEND:
        results["sent_all"] = results.get("sent_all", 0) + 1

async def main():
    results = {}
    async def bounded():
        # A server that neither reads nor closes would hang a client: that is a result too.
        try:
            await asyncio.wait_for(one(results), 120)
        except asyncio.TimeoutError:
            results["hung"] = results.get("hung", 0) + 1
    await asyncio.gather(*(bounded() for _ in range(CONNECTIONS)))
    results["connections"] = CONNECTIONS
    print(json.dumps(results, sort_keys=True))

asyncio.run(main())
