//! Scenario runner for ACE key provisioning for group communication (RFC
//! 9594 with the Group OSCORE profile): scripted flows of an AS, a KDC and
//! group clients over loopback, with a step log, a CoAP trace, a pcap file,
//! a sequence diagram (SVG and Mermaid) and a JSON report.
//!
//! * [`model`]: the TOML scenario format, parsed ([`model::raw`]) and
//!   validated into a [`Scenario`]; errors name the line.
//! * [`runner`]: runs a scenario in this process or with the `ace-as`,
//!   `ace-kdc` and `ace-client` binaries as processes.
//! * [`actor`]: what the runner drives ([`actor::Member`],
//!   [`actor::KdcControl`]) and its implementations.
//! * [`capture`]: every actor endpoint's traffic in one timeline.
//! * [`report`]: step log, JSON report, sequence diagram.
//! * [`demo`]: the embedded end-to-end demo.
//!
//! # Modes and reports
//!
//! [`run`] starts the actors in this process ([`Mode::InProcess`]: the
//! AS and the KDC services of `ace-as` and `ace-kdc` with a SQLite database
//! in a temporary directory, one `ace-client` endpoint per client, all on
//! 127.0.0.1 with ephemeral ports) or as child processes
//! ([`Mode::Processes`]), runs the steps with bounded timeouts, and always
//! tears everything down. In-process, every client's and the AS's endpoint
//! is tapped: the trace, the pcap file and the sequence diagram show every
//! datagram (the KDC's too, since it only talks to tapped clients), with
//! the inner method and path of OSCORE exchanges where the runner's
//! handlers sit inside the OSCORE layer (the AS's resources, the members'
//! group resources).
//!
//! # The scenario format
//!
//! A scenario is a TOML file. Top-level keys: `name`, `description`,
//! `timeout` (whole run, default `"120s"`), `step_timeout` (default
//! `"15s"`), `countersignature` (`"rfc9338"`, the default, or
//! `"aiocoap-0.4.17"` for the aiocoap compatibility mode). Durations are
//! `"250ms"`, `"2s"`, `"1m"` or integers of milliseconds.
//!
//! ```toml
//! name = "join"
//! description = "a node joins through the full flow of RFC 9594 Figure 2"
//!
//! [network]            # packet loss at every endpoint the runner owns
//! loss = 0.0           # share dropped in each direction, 0.0 to 0.9
//! seed = 1             # seed of the drop decisions
//!
//! [as]
//! token_lifetime = 3600    # seconds (or "5s")
//! # loss = 0.1             # loss at the AS only
//!
//! [kdc]
//! tick = "100ms"       # KDC timer: token expiry, material refresh
//! rekey_margin = 0     # rekey this many seconds before material expiry
//!
//! [[group]]            # exactly the keys of ace-kdc's [[groups]]
//! name = "g1"
//! mode = "both"        # "group", "pairwise", "both"
//! signature = "EdDSA"  # or "ES256"
//! # backward_security, key_lifetime, max_members, max_sender_id_len,
//! # active, key_update_check_interval, ... (see kdc.example.toml)
//!
//! [[client]]
//! name = "alice"
//! signature = "EdDSA"       # or "ES256"
//! # count = 1000            # alice-1 ... alice-1000
//! # grant = [{ group = "g1", roles = ["requester"] }]  # default: what its joins ask
//! observe = true            # observe /ace-group/GROUPNAME for rekeying
//! control_uri = false       # offer a control_uri for rekeying and eviction
//! # loss = 0.2              # loss at this client only
//!
//! [[external]]              # an external process acting as a member
//! name = "aio"
//! kind = "aiocoap-member"
//! command = ["{python}", "{root}/tests/interop/aiocoap_member.py"]
//! sponsor = "carol"         # our client that joins for it and hands over
//!
//! [[step]]
//! action = "join"
//! client = "alice"          # or clients = ["a", "b"] / clients = "m-*"
//! group = "g1"              # or groups = ["g1", "g2"] (one token)
//! roles = ["requester"]     # requester, responder, monitor, verifier
//! # expect = "ok" (default) or { code = "4.03", error_id = 0 }
//! # timeout = "5s", note = "..."
//! ```
//!
//! Step actions (every step takes `expect`, `timeout` and `note`):
//!
//! | action | keys | what it does and checks |
//! |---|---|---|
//! | `hints` | client, group | request without a token: 4.01 with AS Request Creation Hints (AS, audience, scope) |
//! | `join` | client/clients, group/groups, roles, `token_for`, `get_creds`, `concurrency` | hints → token → authz-info → join (RFC 9594 Figure 2); Responders and Monitors then serve the group |
//! | `token` | client, group, roles | a token without joining (e.g. `verifier`) |
//! | `forged_join` | client, group, roles, flaw = `signature`/`credential` | a Join Request the KDC must refuse (error ids 3 and 2) |
//! | `keys` | client, group, `num` | GET `/ace-group/GROUPNAME` |
//! | `num` | client, group, `equals` | GET `.../num`, equal to the installed version |
//! | `renew` | client, group | new Sender ID, different and in use |
//! | `creds` | client, group, `inclusion`, `roles` (names or arrays = combinations), `ids` (members), `members` | GET `/creds` without a filter, FETCH with one; exactly `members` returned |
//! | `kdc_cred` | client, group | GET `/kdc-cred`, PoP verified |
//! | `policies` | client, group, `check_interval` | GET `/policies` |
//! | `send` | client, group, `path`, `payload`, `window`, `responders`, `seen_by`, `not_seen_by` | a Group OSCORE request: exactly `responders` answer, `seen_by` read it, `not_seen_by` do not |
//! | `leave` | client/clients, group | DELETE the node resource; the KDC rekeys |
//! | `evict` | client, group | operator eviction; the member is told; the group is rekeyed |
//! | `rekey` | group | operator rekeying, num + 1 |
//! | `delete_group` | group | operator deletion; members are told (error id 6) |
//! | `expire` | what = `token`/`material`, client, group | waits for the eviction on token expiry (error id 5) or the replacement of expiring material |
//! | `kill_kdc`, `restart_kdc` | | stop the KDC; start it again on its database |
//! | `observing` | client/clients, group | each client registered its observation of `/ace-group/GROUPNAME` since the KDC last restarted (it noticed that the KDC lost it) |
//! | `converge` | group, `clients`, `num` | every member has installed the same `num` |
//! | `wait` | duration | sleeps |
//! | `request` | client, method, path (`{node}` = own node name), `payload` (hex), `content_format` | a request to the KDC over the client's OSCORE channel |
//! | `unreadable` | sender, group, former | a captured group request under the new keys does not decrypt with the keys `former` held when it left (nor relabelled with the new Gid), and does with a current member's |
//! | `handover` | external, group | the sponsor's keying material and credentials go to the external member |

pub mod actor;
pub mod capture;
pub mod demo;
pub mod model;
pub mod report;
pub mod runner;

pub use model::{Scenario, ScenarioError};
pub use report::RunReport;
pub use runner::{Mode, RunOptions, run};
