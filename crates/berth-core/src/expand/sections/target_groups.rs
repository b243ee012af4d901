//! `target_groups:`: ELB target groups.

use super::prelude::*;

pub(crate) const SECTION: Section = Section {
    name: "target_groups",
    outputs: &["arn", "name"],
    declared: |stack| declared(&stack.target_groups, |r| (r.protect, &r.allow)),
    expand: |x| x.target_groups(),
};

impl Expander<'_> {
    pub(in crate::expand) fn target_groups(&mut self) {
        for (name, tg) in &self.stack.target_groups {
            let health =
                tg.health_check.clone().unwrap_or(model::HealthCheck { path: "/".into(), matcher: "200".into() });
            let desired = json!({
                "name": name, "protocol": tg.protocol, "port": tg.port, "vpc_id": reference(NETWORK, "vpc_id"),
                "target_type": tg.target_type, "health_check": { "path": health.path, "matcher": health.matcher },
            });
            self.push_tagged(
                format!("target_groups.{name}"),
                Kind::TargetGroup,
                desired,
                None,
                &["target_groups", name],
            );
        }
    }
}
