"""pybroadcast: the realtime hub embedded in the PHP extension.

App processes import only :mod:`pybroadcast.client`; the hub (asyncio, websockets)
is imported by :mod:`pybroadcast.runtime` inside the process that runs
``PyBroadcast\\Server::run()``.
"""

__version__ = "0.1.0"
