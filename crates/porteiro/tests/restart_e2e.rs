//! The whole `porteiro serve` killed with SIGKILL in the middle of a Cloud console session and
//! a JIT session, then started again on the same data directory: the recordings of both are
//! closed as interrupted and verify up to their last event, the same browser cookie keeps
//! using the console without a new launch (its recording continues as `ID.1`), the JIT
//! session's gateway credentials keep working, and the web UI's sign-in cookie still works.

mod common;
mod gateway;

use std::time::{Duration, Instant};

use common::{get_with_cookie, http, web_sign_in};
use gateway::*;
use serde_json::{Value, json};

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits until the recording `id`'s event log contains `what` (the recorder writes in the
/// background; a SIGKILL loses nothing the process has written).
fn wait_recorded(p: &Porteiro, id: &str, what: &str) {
    let path = p.recordings().join(id).join("events.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&path).is_ok_and(|t| t.contains(what)) {
        assert!(Instant::now() < deadline, "{what} was not recorded in {id}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `porteiro recordings verify ID`: interrupted, and every event of the log verifies.
fn assert_interrupted_and_valid(p: &Porteiro, id: &str) {
    let o = p.cli(&["recordings", "verify", id], "", &[]);
    assert!(o.status.success(), "{}", out(&o));
    let lines = events(&p.recordings(), id).len();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains(&format!("{id}: verified (interrupted, {lines} events")),
        "{id} is interrupted and valid up to its last event ({lines}): {text}"
    );
}

fn console_get(p: &Porteiro, path: &str, cookie: &str) -> common::Answer {
    get_with_cookie(&p.api, path, cookie)
}

#[test]
fn sessions_survive_a_sigkill_of_porteiro_serve() {
    let mut p = Porteiro::start("restart-e2e");
    let s = p.setup(&["Admin"]);
    p.ok(
        "POST",
        "/groups",
        &s.admin,
        json!({"name": "console-users", "members": ["ana"], "permissions": ["start_sessions"]}),
    );

    // ---- Before: a web sign-in, a Cloud console session and a JIT session in use ----
    let web = web_sign_in(&p.api, "ana", ANA_PASSWORD);
    let mine = get_with_cookie(&p.api, "/my/sessions", &web);
    assert_eq!(mine.status, 200, "{}", mine.body);

    let console = p.ok(
        "POST",
        "/sessions",
        &s.ana,
        json!({"kind": "console", "cloud_user_id": s.cloud_user, "duration": 900}),
    );
    let c1 = console["session"]["id"].as_str().expect("id").to_string();
    let launch = p.ok("POST", &format!("/sessions/{c1}/launch"), &s.ana, Value::Null);
    let launch_path = launch["path"].as_str().expect("launch path").to_string();
    let a = http(&p.api, "GET", &launch_path, &[("Accept", "text/html")], "");
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = a.set_cookie("porteiro_session").expect("the console cookie");
    let home = console_get(&p, &format!("/sessions/{c1}/console/"), &cookie);
    assert_eq!(home.status, 200, "{}", home.body);
    // A page of the console (allowed or denied by the IAM user's policies: the cloud decides).
    let roles = console_get(&p, &format!("/sessions/{c1}/console/iam/roles"), &cookie);
    assert!(
        roles.status < 500 && roles.status != 401,
        "{} {}",
        roles.status,
        roles.body
    );

    let jit = p.start_jit(&s, "Admin", 900);
    let rt = runtime();
    // The caller's ARN through the gateway, or the SDK's error.
    let caller = || -> Result<Option<String>, String> {
        rt.block_on(async {
            sts(&jit.endpoint, &jit.access_key_id, &jit.secret)
                .get_caller_identity()
                .send()
                .await
                .map(|o| o.arn().map(str::to_string))
                .map_err(|e| format!("{e:?}"))
        })
    };
    let me = caller().expect("GetCallerIdentity through the gateway");
    assert_eq!(
        me.as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/Admin/ana")
    );

    wait_recorded(&p, &c1, "/console/iam/roles");
    wait_recorded(&p, &jit.id, "GetCallerIdentity");

    // ---- SIGKILL mid-session, and a start on the same data directory ----
    p.kill_and_restart();

    // Both recordings were closed as interrupted by recovery, and verify.
    assert_interrupted_and_valid(&p, &c1);
    assert_interrupted_and_valid(&p, &jit.id);

    // The same browser cookie keeps using the console: no new launch.
    let again = console_get(&p, &format!("/sessions/{c1}/console/iam/roles"), &cookie);
    assert_eq!(
        again.status, roles.status,
        "the console after the restart: {}",
        again.body
    );
    let home_again = console_get(&p, &format!("/sessions/{c1}/console/"), &cookie);
    assert_eq!(home_again.status, 200, "{}", home_again.body);
    assert!(
        home_again
            .body
            .contains(&format!("href=\"/sessions/{c1}/console/")),
        "the cloud's page through the gateway, signed in: {}",
        home_again.body
    );
    assert!(
        again.set_cookie("porteiro_session").is_none(),
        "no new cookie: {:?}",
        again.headers
    );
    // Its recording continues as ID.1, which names the one it continues.
    let c1_next = format!("{c1}.1");
    wait_recorded(&p, &c1_next, "/console/iam/roles");
    wait_recorded(&p, &c1_next, &format!("continues recording {c1}"));
    // A browser without the cookie still may not.
    let none = http(
        &p.api,
        "GET",
        &format!("/sessions/{c1}/console/"),
        &[("Accept", "text/html")],
        "",
    );
    assert_eq!(none.status, 401, "{}", none.body);

    // The JIT session's gateway credentials keep working; its recording continues too.
    let me = caller().expect("GetCallerIdentity through the gateway after the restart");
    assert_eq!(
        me.as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/Admin/ana")
    );
    wait_recorded(&p, &format!("{}.1", jit.id), "GetCallerIdentity");

    // The web UI's sign-in cookie still works, CSRF token included: signing out works and
    // ends the sign-in for good.
    let mine = get_with_cookie(&p.api, "/my/sessions", &web);
    assert_eq!(
        mine.status, 200,
        "the web sign-in after the restart: {:?}",
        mine.headers
    );
    let at = mine.body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = &mine.body[at..at + mine.body[at..].find('"').expect("end")];
    let origin = format!("http://{}", p.api);
    let web_cookie = format!("porteiro_session={web}");
    let signed_out = http(
        &p.api,
        "POST",
        "/signout",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &web_cookie),
            ("Origin", &origin),
        ],
        &format!("csrf={csrf}"),
    );
    assert_eq!(signed_out.status, 303, "{}", signed_out.body);
    assert_eq!(signed_out.header("location"), Some("/signin?why=out"));
    let after = get_with_cookie(&p.api, "/my/sessions", &web);
    assert_eq!(after.status, 303, "signed out: {:?}", after.headers);

    // A drop still cuts the console at once after the restart.
    let admin = p.login("admin", ADMIN_PASSWORD);
    p.ok("POST", &format!("/sessions/{c1}/drop"), &admin, Value::Null);
    let cut = console_get(&p, &format!("/sessions/{c1}/console/"), &cookie);
    assert!(
        cut.body.contains("You have been disconnected"),
        "{} {}",
        cut.status,
        cut.body
    );
}
