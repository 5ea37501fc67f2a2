"""The QUIC edge: every byte hang sends or receives passes through this package.

:mod:`hang.transport.base` is the small interface the rest of hang uses (sessions of streams);
:mod:`hang.transport.quic` implements it on aioquic, for raw QUIC and for WebTransport over
HTTP/3. Another stack (qh3, a batched send path) would implement the same interface.
"""
