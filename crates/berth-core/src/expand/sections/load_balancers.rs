//! `load_balancers:`: application load balancers and their listeners.

use super::prelude::*;

pub(crate) const SECTION: Section = Section {
    name: "load_balancers",
    outputs: &["arn", "name", "dns_name"],
    declared: |stack| declared(&stack.load_balancers, |r| (r.protect, &r.allow)),
    expand: |x| x.load_balancers(),
};

impl Expander<'_> {
    pub(in crate::expand) fn load_balancers(&mut self) {
        for (name, lb) in &self.stack.load_balancers {
            let address = format!("load_balancers.{name}");
            let groups: Vec<String> = lb
                .security_groups
                .iter()
                .filter_map(|g| {
                    self.name_or_external(
                        "security_groups",
                        g,
                        "id",
                        |s| s.starts_with("sg-"),
                        &["load_balancers", name, "security_groups"],
                    )
                })
                .collect();
            let desired = json!({
                "name": name, "scheme": lb.scheme, "type": "application",
                "subnet_ids": reference(NETWORK, "subnet_ids"), "security_group_ids": groups,
            });
            self.push_tagged(address.clone(), Kind::LoadBalancer, desired, None, &["load_balancers", name]);
            for (i, listener) in lb.listeners.iter().enumerate() {
                let index = i.to_string();
                let path = ["load_balancers", name.as_str(), "listeners", index.as_str()];
                let Some(tg) =
                    self.name_or_external("target_groups", &listener.forward, "arn", |s| s.starts_with("arn:"), &path)
                else {
                    continue;
                };
                let desired = json!({
                    "load_balancer_arn": reference(&address, "arn"), "port": listener.port,
                    "protocol": listener.protocol, "target_group_arn": tg,
                });
                self.push_tagged(
                    format!("{address}.listeners[{}]", listener.port),
                    Kind::Listener,
                    desired,
                    Some(&address),
                    &path,
                );
            }
        }
    }
}
