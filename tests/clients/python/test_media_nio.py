"""Files through matrix-nio: upload, send, download by a member, refused to an outsider,
metadata stripped (checked with Pillow), thumbnails of the requested size.

Every request goes through matrix-nio's ``AsyncClient``; the image checks use Pillow, a
library nobody here wrote.  Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import asyncio
import io
import uuid

from nio import (
    AsyncClient,
    DownloadError,
    JoinResponse,
    MemoryDownloadResponse,
    ResizingMethod,
    RoomCreateResponse,
    RoomSendResponse,
    ThumbnailResponse,
    UploadResponse,
)
from PIL import ExifTags, Image

TIMEOUT_S = 60


def photo_with_gps() -> bytes:
    """A JPEG as a phone camera writes it: camera make and a GPS position in its EXIF."""
    img = Image.new("RGB", (640, 480), (180, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "WardPhone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 7.0, 40.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def client(wardline, name: str) -> AsyncClient:
    return await wardline.nio_login(name, f"nio-{name}")


def test_photo_shared_in_a_room(wardline):
    async def scenario():
        alice, bob, carol = [await client(wardline, n) for n in ("alice", "bob", "carol")]
        try:
            original = photo_with_gps()
            before = Image.open(io.BytesIO(original)).getexif()
            assert before.get_ifd(ExifTags.IFD.GPSInfo), "the test photo carries a GPS position"

            up, _ = await alice.upload(
                io.BytesIO(original), content_type="image/jpeg", filename="wound.jpg", filesize=len(original)
            )
            assert isinstance(up, UploadResponse), up
            assert up.content_uri.startswith("mxc://localhost/")

            room = await alice.room_create(invite=[bob.user_id], name="Ward 7 wound care")
            assert isinstance(room, RoomCreateResponse), room
            joined = await bob.join(room.room_id)
            assert isinstance(joined, JoinResponse), joined
            sent = await alice.room_send(
                room.room_id,
                "m.room.message",
                {
                    "msgtype": "m.image",
                    "body": "wound.jpg",
                    "url": up.content_uri,
                    "info": {"mimetype": "image/jpeg", "w": 640, "h": 480, "size": len(original)},
                },
                tx_id=str(uuid.uuid4()),
            )
            assert isinstance(sent, RoomSendResponse), sent

            got = await bob.download(mxc=up.content_uri)
            assert isinstance(got, MemoryDownloadResponse), got
            assert got.content_type == "image/jpeg"
            received = Image.open(io.BytesIO(got.body))
            assert received.size == (640, 480)
            exif = received.getexif()
            assert not exif.get_ifd(ExifTags.IFD.GPSInfo), "GPS position removed"
            assert ExifTags.Base.Make not in exif, "camera make removed"
            assert "exif" not in received.info, "no EXIF block at all"

            named = await bob.download(mxc=up.content_uri, filename="photo.jpg")
            assert isinstance(named, MemoryDownloadResponse), named
            assert named.filename == "photo.jpg"

            refused = await carol.download(mxc=up.content_uri)
            assert isinstance(refused, DownloadError), refused
            assert refused.status_code == "M_NOT_FOUND", refused

            server, media_id = up.content_uri.removeprefix("mxc://").split("/")
            for (w, h, method, expected) in [
                (96, 96, ResizingMethod.crop, (96, 96)),
                (320, 240, ResizingMethod.scale, (320, 240)),
            ]:
                thumb = await bob.thumbnail(server, media_id, w, h, method)
                assert isinstance(thumb, ThumbnailResponse), thumb
                assert Image.open(io.BytesIO(thumb.body)).size == expected
            outsider_thumb = await carol.thumbnail(server, media_id, 96, 96, ResizingMethod.crop)
            assert not isinstance(outsider_thumb, ThumbnailResponse), "an outsider gets no thumbnail either"
        finally:
            for c in (alice, bob, carol):
                await c.close()

    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT_S))
