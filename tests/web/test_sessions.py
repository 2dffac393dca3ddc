"""The session store on each database backend: save, load, rotate, forget, forged cookies."""

from types import SimpleNamespace

from sqlalchemy import select

from services.common.db import create_engine
from services.common.migrations import migrate
from web.sessions import Session, SessionStore
from web.tables import sessions


async def _store(database_url: str) -> SessionStore:
    engine = create_engine(database_url)
    await migrate(engine, "web.migrations")
    return SessionStore(SimpleNamespace(engine=engine), "secret")


async def test_a_saved_session_loads_back_from_its_cookie(database_url):
    store = await _store(database_url)
    session = Session()
    session["user"] = {"user_id": "u1"}
    cookie = await store.save(session)
    assert cookie is not None
    loaded = await store.load(cookie)
    assert loaded["user"] == {"user_id": "u1"} and loaded.sid == session.sid
    loaded["flash"] = ["hi"]
    assert await store.save(loaded) is None  # same id: no new cookie
    assert (await store.load(cookie))["flash"] == ["hi"]
    await store.engine.dispose()


async def test_the_table_holds_no_usable_session_id(database_url):
    store = await _store(database_url)
    session = Session(data={"k": "v"})
    await store.save(session)
    async with store.engine.connect() as conn:
        ids = [r.id for r in await conn.execute(select(sessions.c.id))]
    assert session.sid not in ids and len(ids) == 1
    await store.engine.dispose()


async def test_rotation_gives_a_new_id_and_kills_the_old_one(database_url):
    store = await _store(database_url)
    session = Session(data={"k": "v"})
    old_cookie = await store.save(session)
    session.rotate()
    new_cookie = await store.save(session)
    assert new_cookie and new_cookie != old_cookie
    assert dict(await store.load(old_cookie)) == {}
    assert (await store.load(new_cookie))["k"] == "v"
    await store.engine.dispose()


async def test_invalidated_sessions_are_gone(database_url):
    store = await _store(database_url)
    session = Session(data={"k": "v"})
    cookie = await store.save(session)
    session.invalidate()
    await store.save(session)
    assert dict(await store.load(cookie)) == {}
    await store.engine.dispose()


async def test_forged_and_foreign_cookies_load_an_empty_session(database_url):
    store = await _store(database_url)
    cookie = await store.save(Session(data={"k": "v"}))
    sid = cookie.rpartition(".")[0]
    other = SessionStore(SimpleNamespace(engine=store.engine), "another secret")
    for forged in (sid + ".AAAA", sid, other.sign(sid), "", "x" * 500):
        assert dict(await store.load(forged)) == {}, forged
    await store.engine.dispose()


async def test_an_empty_new_session_is_not_stored(database_url):
    store = await _store(database_url)
    assert await store.save(Session()) is None
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(sessions.c.id))).first() is None
    await store.engine.dispose()


async def test_a_cookie_that_is_not_ascii_loads_an_empty_session(database_url):
    store = await _store(database_url)
    assert dict(await store.load("sïd.sïgnature")) == {}
    await store.engine.dispose()
