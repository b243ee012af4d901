//! What a stack gives its users once it runs: the URL of each load
//! balancer listener, from the outputs of the resources that exist.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::resolve;
use crate::graph::Graph;
use crate::kind::Kind;
use crate::provider::Outputs;

/// Where a listener of the stack answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The listener's address (`load_balancers.web.listeners[80]`).
    pub address: String,
    /// `http://NAME.elb.amazonaws.com`, with the port when it is not the protocol's own.
    pub url: String,
}

/// The URL of every listener whose load balancer exists (has a DNS name in `outputs`).
pub fn endpoints(graph: &Graph, outputs: &HashMap<String, Outputs>) -> Vec<Endpoint> {
    graph
        .nodes()
        .iter()
        .filter(|n| n.kind == Kind::Listener)
        .filter_map(|listener| {
            let balancer = listener.parent.as_ref()?;
            let dns = outputs.get(balancer)?.get("dns_name")?.as_str()?;
            let desired = resolve(&listener.desired, outputs);
            let scheme = desired.get("protocol").and_then(Value::as_str).unwrap_or("HTTP").to_ascii_lowercase();
            let port = desired.get("port").and_then(Value::as_u64)?;
            let default_port = matches!((scheme.as_str(), port), ("http", 80) | ("https", 443));
            let port = if default_port { String::new() } else { format!(":{port}") };
            Some(Endpoint { address: listener.address.clone(), url: format!("{scheme}://{dns}{port}") })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Node;
    use serde_json::json;

    #[test]
    fn listeners_of_existing_balancers_become_urls() {
        let mut http = Node::new("lb.listeners[80]", Kind::Listener, json!({"port": 80, "protocol": "HTTP"}));
        http.parent = Some("lb".into());
        let mut admin = Node::new("lb.listeners[8443]", Kind::Listener, json!({"port": 8443, "protocol": "HTTPS"}));
        admin.parent = Some("lb".into());
        let mut other = Node::new("new.listeners[80]", Kind::Listener, json!({"port": 80, "protocol": "HTTP"}));
        other.parent = Some("new".into());
        let graph = Graph::new(vec![
            Node::new("lb", Kind::LoadBalancer, json!({})),
            Node::new("new", Kind::LoadBalancer, json!({})),
            http,
            admin,
            other,
        ])
        .unwrap();
        let outputs = HashMap::from([("lb".to_owned(), Outputs::from([("dns_name".into(), json!("lb-1.elb"))]))]);
        let urls: Vec<String> = endpoints(&graph, &outputs).into_iter().map(|e| e.url).collect();
        assert_eq!(urls, ["http://lb-1.elb", "https://lb-1.elb:8443"]);
    }
}
