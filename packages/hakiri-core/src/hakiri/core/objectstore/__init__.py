"""Object stores: the ``hakiri.core.ports.ObjectStore`` port on a local directory
(``LocalObjectStore``) and on an S3 bucket (``S3ObjectStore``, extra ``s3``).

Both pass one conformance suite, ``hakiri.core.objectstore.testing``. The S3 store's client
(``hakiri.core.objectstore.s3client``: its event loop, botocore settings and error wording)
is shared with whatever else talks to a bucket, such as the s3 connector. Importing this
package loads neither aiobotocore nor anyio: the S3 store imports them when its client
starts, and says which extra to install if they are missing.
"""

from __future__ import annotations

from hakiri.core.objectstore._keys import check_key, check_prefix, plain_etag
from hakiri.core.objectstore.local import LocalObjectStore
from hakiri.core.objectstore.s3 import S3ObjectStore

__all__ = ["LocalObjectStore", "S3ObjectStore", "check_key", "check_prefix", "plain_etag"]
