"""Runs moto's S3/KMS server on 127.0.0.1:PORT until stdin closes.

The test process holds our stdin; when it exits (even on a crash) the pipe closes and this
server stops, so no moto process outlives the tests that started it.
"""
import sys

from moto.server import ThreadedMotoServer

port = int(sys.argv[1])
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
print("ready", flush=True)
sys.stdin.read()
server.stop()
