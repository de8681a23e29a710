import re
from tests.factories import make_avatar, make_paid_payment, make_user
from db import generation, messages

def test_render(client, services, settings):
    inviter = make_user(services)
    user = make_user(services, referred_by=inviter["id"])
    payment = make_paid_payment(services, user, make_avatar(services, user), tier="premium")
    with services.pool.connection() as conn, conn.transaction():
        job = generation.start_job(conn, payment_id=payment["id"], referral_percent=10)
        conn.execute("UPDATE generation_jobs SET photos_stored = 9, photos_failed = 2 WHERE id = %s", (job["id"],))
        messages.raise_alert(conn, kind="kie_no_credits", message="<b>Kie</b> has no credits", severity="critical")
        messages.insert_dead_letter(conn, message_id="m1", actor="store_photo", queue_name="storage",
                                    payload={"args": [1]}, error="DownloadError: 404", traceback="tb", attempts=6)
    html = client.get("/admin", headers={"Authorization": f"Bearer {settings.admin_token}"}).get_data(as_text=True)
    body = html[html.index("<main>"):]
    print(re.sub(r"\n\s*\n+", "\n", body))
