//! A fault-injecting HTTP/1.1 proxy to put between berth and moto.
//!
//! moto answers every request with `Connection: close`, so the proxy handles
//! one request per connection: it reads the request head and body, forwards
//! them to moto and relays moto's answer, unless the request is one of the
//! configured share that gets a fault instead (see [`Fault`]). Which
//! requests get one is drawn from a seeded xorshift generator (so a run is
//! reproducible up to the order in which concurrent requests arrive); the
//! kinds of fault are dealt in turn, so that every kind shows up early.
//! A request is *mutating* unless its operation is a Describe, List, Get or
//! Head (S3: unless its method is GET or HEAD); [`FaultProxy::records`] logs
//! every request with its operation, fault and moto's status.
//!
//! For crash tests the proxy can also *freeze*: once the Nth mutating request
//! has been let through to moto, no later request is forwarded (they are
//! held, unanswered), and the Nth one's answer is held back too. When moto
//! has answered everything it was sent, [`FaultProxy::wait_frozen`] returns:
//! a client killed then has made exactly N changes, the last of which it
//! never heard about.
//!
//! With a [`RolloutScript`] the proxy also plays an ECS rollout that moto
//! cannot (see [`crate::rollout_script`]): it patches DescribeServices answers
//! and answers some reads itself; those are recorded like any other request.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::rollout_script::{patch_services, CannedAnswer, RolloutScript};

/// What the proxy does to a request instead of relaying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// A throttling error in the service's own protocol (JSON
    /// `ThrottlingException`, or ECS's `ClientException: Rate exceeded`;
    /// query/XML `Throttling`; EC2 `RequestLimitExceeded`; S3 `SlowDown`).
    /// The request never reaches moto.
    Throttle,
    /// HTTP 500 with an internal error body. The request never reaches moto.
    ServerError,
    /// The connection is closed before the request is forwarded.
    DropBefore,
    /// The request is forwarded, moto acts on it, and the connection is
    /// closed without an answer: the client cannot know that it happened.
    DropAfter,
}

impl Fault {
    /// Every kind of fault.
    pub const ALL: [Fault; 4] = [Fault::Throttle, Fault::ServerError, Fault::DropBefore, Fault::DropAfter];
}

/// How the proxy misbehaves.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Share of requests that get a fault, from 0.0 to 1.0.
    pub rate: f64,
    /// Seed of the generator that picks the faulty requests and their fault.
    pub seed: u64,
    /// The faults to inject, in turn: the first faulty request gets the
    /// first kind, the next one the next kind, and so on round.
    pub kinds: Vec<Fault>,
    /// Only requests that change something get faults.
    pub only_mutating: bool,
    /// Freeze after this many mutating requests (see the module docs).
    pub freeze_after_mutations: Option<usize>,
    /// The ECS rollout to play once a service is created or updated.
    pub rollout: Option<RolloutScript>,
}

impl FaultConfig {
    /// No faults: a plain relay (which still counts and logs requests).
    pub fn none() -> FaultConfig {
        FaultConfig {
            rate: 0.0,
            seed: 1,
            kinds: Vec::new(),
            only_mutating: false,
            freeze_after_mutations: None,
            rollout: None,
        }
    }

    /// `rate` of the requests get one of every kind of fault.
    pub fn all(rate: f64, seed: u64) -> FaultConfig {
        FaultConfig { rate, seed, kinds: Fault::ALL.to_vec(), ..FaultConfig::none() }
    }

    /// A plain relay that freezes after `n` mutating requests.
    pub fn freeze_after(n: usize) -> FaultConfig {
        FaultConfig { freeze_after_mutations: Some(n), ..FaultConfig::none() }
    }

    /// A plain relay that plays `script` (see [`crate::rollout_script`]).
    pub fn rollout(script: RolloutScript) -> FaultConfig {
        FaultConfig { rollout: Some(script), ..FaultConfig::none() }
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The signing name of the service (`ecs`, `ec2`, `s3`, ...).
    pub service: String,
    /// The API operation (`CreateLoadBalancer`, or for S3 a name derived
    /// from the method and path, such as `CreateBucket`).
    pub operation: String,
    /// Whether the operation changes something (not a Describe/List/Get/Head).
    pub mutating: bool,
    /// The fault it got, if any.
    pub fault: Option<Fault>,
    /// It arrived after the freeze, and was forwarded only if the proxy was
    /// thawed (then it has a `status`).
    pub held: bool,
    /// When it arrived, since the proxy started.
    pub at: Duration,
    /// The HTTP status of moto's answer, when it was forwarded.
    pub status: Option<u16>,
}

struct State {
    rng: u64,
    /// Faults dealt so far.
    faults: usize,
    /// Mutating requests forwarded so far.
    mutations: usize,
    /// The last mutating request to forward has been let through: nothing
    /// after it is.
    freezing: bool,
    /// Requests being forwarded to moto right now.
    in_flight: usize,
    /// [`FaultProxy::thaw`] was called: held requests go on.
    thawed: bool,
    records: Vec<Record>,
    rollout: RolloutProgress,
}

/// How far the [`RolloutScript`] has got.
#[derive(Default)]
struct RolloutProgress {
    /// An ECS CreateService or UpdateService was forwarded: the rollout began.
    begun: bool,
    /// DescribeServices answers patched so far.
    polls_patched: usize,
}

impl State {
    /// Frozen: the last mutating request was let through and moto has
    /// answered every forwarded request.
    fn frozen(&self) -> bool {
        self.freezing && self.in_flight == 0
    }
}

struct Shared {
    started: Instant,
    upstream: String,
    config: FaultConfig,
    state: Mutex<State>,
    /// Signalled whenever a forwarded request is done.
    forwarded: Condvar,
    stopping: AtomicBool,
}

/// A running proxy, stopped when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`: point berth here instead of at moto.
    pub endpoint: String,
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (moto's `http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, config: FaultConfig) -> FaultProxy {
        assert!((0.0..=1.0).contains(&config.rate), "fault rate {} is not within 0..=1", config.rate);
        assert!(config.rate == 0.0 || !config.kinds.is_empty(), "a fault rate needs fault kinds");
        let upstream = upstream.strip_prefix("http://").unwrap_or(upstream).trim_end_matches('/').to_owned();
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the fault proxy on 127.0.0.1");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            started: Instant::now(),
            upstream,
            // xorshift must not start at 0.
            state: Mutex::new(State {
                rng: config.seed.max(1),
                faults: 0,
                mutations: 0,
                freezing: false,
                in_flight: 0,
                thawed: false,
                records: Vec::new(),
                rollout: RolloutProgress::default(),
            }),
            config,
            forwarded: Condvar::new(),
            stopping: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        let acceptor = thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = accepting.clone();
                thread::spawn(move || {
                    let _ = handle(&shared, stream);
                });
            }
        });
        FaultProxy { endpoint: format!("http://127.0.0.1:{port}"), port, shared, acceptor: Some(acceptor) }
    }

    /// Environment for a berth process talking to AWS through this proxy.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        crate::aws_env(&self.endpoint)
    }

    /// SDK configuration pointing at this proxy.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        crate::sdk_config_for(&self.endpoint).await
    }

    /// Every request seen so far, in arrival order.
    pub fn records(&self) -> Vec<Record> {
        self.shared.state.lock().expect("proxy state").records.clone()
    }

    /// Mutating requests forwarded so far.
    pub fn mutations(&self) -> usize {
        self.shared.state.lock().expect("proxy state").mutations
    }

    /// How many faults of each kind were injected.
    pub fn injected(&self) -> BTreeMap<Fault, usize> {
        let mut counts = BTreeMap::new();
        for fault in self.records().iter().filter_map(|r| r.fault) {
            *counts.entry(fault).or_insert(0) += 1;
        }
        counts
    }

    /// Waits until the proxy froze (see [`FaultConfig::freeze_after_mutations`])
    /// and moto has answered every request forwarded to it, so that
    /// [`FaultProxy::records`] shows every change that was made; false when
    /// `timeout` passed first.
    pub fn wait_frozen(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().expect("proxy state");
        while !state.frozen() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self.shared.forwarded.wait_timeout(state, deadline - now).expect("proxy state").0;
        }
        true
    }

    /// Ends a freeze: the held answer is sent, the held requests are
    /// forwarded and answered, and later ones go through as usual.
    pub fn thaw(&self) {
        let mut state = self.shared.state.lock().expect("proxy state");
        state.freezing = false;
        state.thawed = true;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.forwarded.notify_all();
        // Wake the acceptor so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// A request as read from the client, kept byte for byte.
struct Request {
    raw: Vec<u8>,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What to do with one request.
enum Verdict {
    Forward { then_freeze: bool },
    Fault(Fault),
    Hold,
}

fn handle(shared: &Shared, client: TcpStream) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let Some(request) = read_request(&mut reader)? else { return Ok(()) };
    let mut client = client;
    let service = signing_service(&request);
    let (operation, mutating) = operation(&request, &service);
    let (verdict, index) = decide(shared, &service, &operation, mutating);
    // `decide` counted the request in flight when it let it through.
    let forward = |request: &Request| -> std::io::Result<Vec<u8>> {
        let response = exchange(shared, request, &service, &operation);
        let status = response.as_ref().ok().and_then(|response| {
            let head = String::from_utf8_lossy(&response[..response.len().min(20)]).into_owned();
            head.split_whitespace().nth(1).and_then(|code| code.parse().ok())
        });
        let mut state = shared.state.lock().expect("proxy state");
        state.records[index].status = status;
        state.in_flight -= 1;
        drop(state);
        shared.forwarded.notify_all();
        response
    };
    match verdict {
        Verdict::Hold => {
            if hold(shared, &client) {
                // Thawed: on its way at last.
                let mut state = shared.state.lock().expect("proxy state");
                state.in_flight += 1;
                state.mutations += usize::from(mutating);
                drop(state);
                client.write_all(&forward(&request)?)?;
                let _ = client.shutdown(Shutdown::Both);
            }
        }
        Verdict::Fault(Fault::DropBefore) => {
            let _ = client.shutdown(Shutdown::Both);
        }
        Verdict::Fault(fault @ (Fault::Throttle | Fault::ServerError)) => {
            let ecs_flavour = shared.state.lock().expect("proxy state").next() & 1 == 1;
            client.write_all(&error_response(
                fault,
                &service,
                request.header("x-amz-target").is_some(),
                ecs_flavour,
            ))?;
            let _ = client.shutdown(Shutdown::Both);
        }
        Verdict::Fault(Fault::DropAfter) => {
            // Wait for moto's whole answer, so that the change is made, then hang up.
            let _ = forward(&request)?;
            let _ = client.shutdown(Shutdown::Both);
        }
        Verdict::Forward { then_freeze } => {
            let response = forward(&request)?;
            if !then_freeze || hold(shared, &client) {
                client.write_all(&response)?;
                let _ = client.shutdown(Shutdown::Both);
            }
        }
    }
    Ok(())
}

impl State {
    /// xorshift64.
    fn next(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

fn decide(shared: &Shared, service: &str, operation: &str, mutating: bool) -> (Verdict, usize) {
    let config = &shared.config;
    let mut state = shared.state.lock().expect("proxy state");
    let mut record = Record {
        service: service.to_owned(),
        operation: operation.to_owned(),
        mutating,
        fault: None,
        held: false,
        at: shared.started.elapsed(),
        status: None,
    };
    let verdict = if state.freezing {
        record.held = true;
        Verdict::Hold
    } else {
        let draw = (state.next() >> 11) as f64 / (1u64 << 53) as f64;
        if draw < config.rate && (mutating || !config.only_mutating) {
            record.fault = Some(config.kinds[state.faults % config.kinds.len()]);
            state.faults += 1;
        }
        match record.fault {
            Some(Fault::Throttle | Fault::ServerError | Fault::DropBefore) => Verdict::Fault(record.fault.unwrap()),
            fault => {
                // The request reaches moto (DropAfter too).
                state.in_flight += 1;
                if mutating {
                    state.mutations += 1;
                }
                let then_freeze = mutating && config.freeze_after_mutations == Some(state.mutations);
                state.freezing |= then_freeze;
                match fault {
                    Some(fault) if !then_freeze => Verdict::Fault(fault),
                    _ => Verdict::Forward { then_freeze },
                }
            }
        }
    };
    state.records.push(record);
    (verdict, state.records.len() - 1)
}

/// Keeps the client waiting, without an answer, until the proxy is thawed
/// (true), stops or the client goes away (false).
fn hold(shared: &Shared, client: &TcpStream) -> bool {
    let _ = client.set_read_timeout(Some(Duration::from_millis(50)));
    let mut probe = [0u8; 1];
    while !shared.stopping.load(Ordering::SeqCst) {
        if shared.state.lock().expect("proxy state").thawed {
            let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
            return true;
        }
        match (&*client).read(&mut probe) {
            // The client hung up (it was killed).
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Gets the answer to a request let through: moto's, unless the rollout
/// script answers it itself or patches it.
fn exchange(shared: &Shared, request: &Request, service: &str, operation: &str) -> std::io::Result<Vec<u8>> {
    let Some(script) = &shared.config.rollout else { return forward(shared, request) };
    let begun = shared.state.lock().expect("proxy state").rollout.begun;
    if begun {
        if let Some(canned) = script.canned(service, operation, &request.body) {
            return Ok(canned_response(&canned));
        }
    }
    let response = forward(shared, request)?;
    if service != "ecs" {
        return Ok(response);
    }
    match operation {
        "CreateService" | "UpdateService" => shared.state.lock().expect("proxy state").rollout.begun = true,
        "DescribeServices" if begun => {
            if let Some((head, body)) = split_ok_response(&response) {
                let mut state = shared.state.lock().expect("proxy state");
                let Some(patch) = script.poll_patch(state.rollout.polls_patched) else { return Ok(response) };
                if let Some(patched) = patch_services(&body, patch) {
                    state.rollout.polls_patched += 1;
                    return Ok(with_body(&head, &patched));
                }
            }
        }
        _ => {}
    }
    Ok(response)
}

/// The head lines (status line first, without the blank line) and the
/// de-chunked body of a 200 answer; `None` for any other status.
fn split_ok_response(response: &[u8]) -> Option<(Vec<String>, Vec<u8>)> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head: Vec<String> = String::from_utf8_lossy(&response[..end]).split("\r\n").map(str::to_owned).collect();
    if head.first()?.split_whitespace().nth(1) != Some("200") {
        return None;
    }
    let raw_body = &response[end + 4..];
    let chunked = head.iter().skip(1).any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked")
        })
    });
    let body = if chunked { dechunk(raw_body)? } else { raw_body.to_vec() };
    Some((head, body))
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.trim().split(';').next()?, 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

/// The answer with `head`'s status and headers and a new body, whose length
/// replaces moto's `Content-Length` (or chunking).
fn with_body(head: &[String], body: &[u8]) -> Vec<u8> {
    let mut response = String::new();
    for (i, line) in head.iter().enumerate() {
        let name = line.split_once(':').map(|(name, _)| name.trim().to_ascii_lowercase());
        if i > 0 && matches!(name.as_deref(), Some("content-length" | "transfer-encoding")) {
            continue;
        }
        response.push_str(line);
        response.push_str("\r\n");
    }
    response.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut response = response.into_bytes();
    response.extend_from_slice(body);
    response
}

fn canned_response(canned: &CannedAnswer) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nx-amzn-RequestId: rollout-script\r\n\
         Connection: close\r\n\r\n{}",
        canned.content_type,
        canned.body.len(),
        canned.body
    )
    .into_bytes()
}

/// Sends the request to moto and returns its whole answer (moto closes the
/// connection after each one).
fn forward(shared: &Shared, request: &Request) -> std::io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect(&shared.upstream)?;
    upstream.set_read_timeout(Some(Duration::from_secs(120)))?;
    upstream.write_all(&request.raw)?;
    let mut response = Vec::new();
    upstream.read_to_end(&mut response)?;
    Ok(response)
}

/// Reads one request: the head, then a `Content-Length` or chunked body.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut raw = Vec::new();
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(None);
    }
    raw.extend_from_slice(request_line.as_bytes());
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        raw.extend_from_slice(line.as_bytes());
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            raw.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if size == 0 {
                // Trailers, up to an empty line.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line.trim_end_matches(['\r', '\n']).is_empty() {
                        raw.extend_from_slice(line.as_bytes());
                        break;
                    }
                    raw.extend_from_slice(line.as_bytes());
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            raw.extend_from_slice(&chunk);
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body = vec![0; length];
        reader.read_exact(&mut body)?;
        raw.extend_from_slice(&body);
    }
    Ok(Some(Request { raw, method, target, headers, body }))
}

/// The service name from the SigV4 credential scope
/// (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`).
fn signing_service(request: &Request) -> String {
    request
        .header("authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(3))
        .unwrap_or("unknown")
        .to_owned()
}

/// The operation and whether it changes anything.
fn operation(request: &Request, service: &str) -> (String, bool) {
    let named = |name: &str| {
        let reads = ["Describe", "List", "Get", "Head", "Search", "Lookup"];
        let mutating = !reads.iter().any(|prefix| name.starts_with(prefix));
        (name.to_owned(), mutating)
    };
    // AWS JSON protocol (ECS, Logs, SSM, tagging, ...).
    if let Some(target) = request.header("x-amz-target") {
        return named(target.rsplit('.').next().unwrap_or(target));
    }
    // Query protocol (EC2, IAM, STS, ELBv2, Auto Scaling): Action=... in the form body.
    let form = String::from_utf8_lossy(&request.body);
    let query = request.target.split_once('?').map(|(_, q)| q).unwrap_or("");
    if let Some(action) = form.split('&').chain(query.split('&')).find_map(|p| p.strip_prefix("Action=")) {
        return named(action);
    }
    if service == "s3" {
        return s3_operation(&request.method, &request.target);
    }
    let mutating = !matches!(request.method.as_str(), "GET" | "HEAD" | "OPTIONS");
    (format!("{} {}", request.method, request.target), mutating)
}

/// A name for an S3 REST request, such as `PutBucketTagging`.
fn s3_operation(method: &str, target: &str) -> (String, bool) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // Path-style: `/bucket/` for the bucket, `/bucket/key` for an object.
    let is_object = path.trim_start_matches('/').split_once('/').is_some_and(|(_, key)| !key.is_empty());
    let sub = query.split('&').map(|p| p.split('=').next().unwrap_or("")).find(|k| {
        ["tagging", "policy", "publicAccessBlock", "acl", "versioning", "encryption", "ownershipControls"].contains(k)
    });
    let sub = sub.map(|s| {
        let mut chars = s.chars();
        chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
    });
    let noun = match (is_object, &sub) {
        (true, _) => "Object".to_owned(),
        (false, Some(sub)) if sub == "PublicAccessBlock" => sub.clone(),
        (false, Some(sub)) => format!("Bucket{sub}"),
        (false, None) => "Bucket".to_owned(),
    };
    let (verb, mutating) = match method {
        "PUT" if !is_object && sub.is_none() => ("Create", true),
        "PUT" => ("Put", true),
        "POST" => ("Post", true),
        "DELETE" => ("Delete", true),
        "HEAD" => ("Head", false),
        _ if !is_object && sub.is_none() && path.trim_matches('/').is_empty() => ("List", false),
        _ => ("Get", false),
    };
    (format!("{verb}{noun}"), mutating)
}

/// An error answer in the protocol of `service`.
fn error_response(fault: Fault, service: &str, json: bool, ecs_flavour: bool) -> Vec<u8> {
    let throttle = fault == Fault::Throttle;
    let (status, content_type, body) = if json {
        let code = match (throttle, service) {
            // ECS also throttles as a ClientException whose message says so.
            (true, "ecs") if ecs_flavour => "ClientException",
            (true, _) => "ThrottlingException",
            (false, "ecs") => "ServerException",
            (false, _) => "InternalFailure",
        };
        let message = if throttle { "Rate exceeded" } else { "injected internal error" };
        (
            if throttle { 400 } else { 500 },
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
        )
    } else {
        match (throttle, service) {
            (true, "ec2") => (503, "text/xml", ec2_error("RequestLimitExceeded", "Request limit exceeded.")),
            (false, "ec2") => (500, "text/xml", ec2_error("InternalError", "injected internal error")),
            (true, "s3") => (503, "application/xml", s3_error("SlowDown", "Please reduce your request rate.")),
            (false, "s3") => (500, "application/xml", s3_error("InternalError", "injected internal error")),
            (true, _) => (400, "text/xml", query_error("Sender", "Throttling", "Rate exceeded")),
            (false, _) => (500, "text/xml", query_error("Receiver", "InternalFailure", "injected internal error")),
        }
    };
    let reason = match status {
        400 => "Bad Request",
        500 => "Internal Server Error",
        _ => "Service Unavailable",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: \
         fault-proxy\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ec2_error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}\
         </Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
    )
}

fn s3_error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
         <RequestId>fault-proxy</RequestId></Error>"
    )
}

fn query_error(kind: &str, code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>fault-proxy</RequestId></ErrorResponse>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_operations_are_named_from_method_and_path() {
        assert_eq!(s3_operation("PUT", "/bucket"), ("CreateBucket".into(), true));
        assert_eq!(s3_operation("PUT", "/bucket/"), ("CreateBucket".into(), true));
        assert_eq!(s3_operation("PUT", "/bucket/?tagging"), ("PutBucketTagging".into(), true));
        assert_eq!(s3_operation("PUT", "/bucket?tagging"), ("PutBucketTagging".into(), true));
        assert_eq!(s3_operation("PUT", "/bucket?publicAccessBlock"), ("PutPublicAccessBlock".into(), true));
        assert_eq!(s3_operation("PUT", "/bucket/prod.env?x-id=PutObject"), ("PutObject".into(), true));
        assert_eq!(s3_operation("HEAD", "/bucket"), ("HeadBucket".into(), false));
        assert_eq!(s3_operation("GET", "/bucket?policy"), ("GetBucketPolicy".into(), false));
        assert_eq!(s3_operation("DELETE", "/bucket"), ("DeleteBucket".into(), true));
    }

    #[test]
    fn a_new_body_replaces_length_and_chunking() {
        let chunked = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
                        3\r\n{\"a\r\n3\r\n\":1\r\n1\r\n}\r\n0\r\n\r\n";
        let (head, body) = split_ok_response(chunked).expect("a 200 answer");
        assert_eq!(body, br#"{"a":1}"#);
        let rebuilt = String::from_utf8(with_body(&head, b"{}")).unwrap();
        assert_eq!(rebuilt, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
        assert!(split_ok_response(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}").is_none());
    }

    #[test]
    fn the_generator_is_seeded() {
        let state = |seed| State {
            rng: seed,
            faults: 0,
            mutations: 0,
            freezing: false,
            in_flight: 0,
            thawed: false,
            records: Vec::new(),
            rollout: RolloutProgress::default(),
        };
        let (mut a, mut b) = (state(7), state(7));
        let draws: Vec<u64> = (0..5).map(|_| a.next()).collect();
        assert_eq!(draws, (0..5).map(|_| b.next()).collect::<Vec<_>>());
        assert!(draws.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn throttles_speak_the_service_protocol() {
        let text =
            |fault, service, json, flavour| String::from_utf8(error_response(fault, service, json, flavour)).unwrap();
        assert!(text(Fault::Throttle, "logs", true, false).contains(r#""__type":"ThrottlingException""#));
        assert!(text(Fault::Throttle, "ecs", true, true).contains("ClientException"));
        assert!(text(Fault::Throttle, "ec2", false, false).starts_with("HTTP/1.1 503"));
        assert!(text(Fault::Throttle, "iam", false, false).contains("<Code>Throttling</Code>"));
        assert!(text(Fault::ServerError, "s3", false, false).starts_with("HTTP/1.1 500"));
    }
}
