"""What `staysaga up` starts, in which order."""

from staysaga.stack import Stack
from tests.support.harness import settings_for


def test_auth_starts_right_after_temporal(tmp_path):
    names = [child.name for child in Stack(settings_for(tmp_path)).plan()]
    assert names[:2] == ["temporal", "auth"]
