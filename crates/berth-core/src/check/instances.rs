//! EC2 instance types, and what one container instance of each offers ECS.
//!
//! ECS places a task only on an instance with enough *registered* memory
//! left, and an instance registers less than it has: the kernel, the OS and
//! the ECS agent keep some. The estimate and its sources are in
//! docs/checks.md (BRT001).

/// An instance type and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceType {
    pub name: String,
    pub memory_mib: u32,
    pub vcpus: u32,
    /// Graviton: images built for x86 do not run on it.
    pub arm: bool,
}

impl InstanceType {
    /// The memory, in MiB, the ECS agent registers for tasks: about 1/32 of
    /// the memory goes to the kernel's per-page structures and reservations,
    /// which grow with it, and 30 MiB to what does not. Calibrated so a
    /// t2.nano (512 MiB) registers 466 MiB, as observed.
    pub fn registered_memory_mib(&self) -> u32 {
        self.memory_mib - self.memory_mib / 32 - 30
    }

    /// The CPU units the ECS agent registers: 1024 per vCPU.
    pub fn cpu_units(&self) -> u32 {
        self.vcpus * 1024
    }

    fn family(&self) -> &str {
        self.name.split('.').next().unwrap_or_default()
    }
}

/// Burstable sizes (size, vCPUs, MiB): not proportional, so listed.
type Sizes = &'static [(&'static str, u32, u32)];

const T2_SIZES: Sizes = &[
    ("nano", 1, 512),
    ("micro", 1, 1024),
    ("small", 1, 2048),
    ("medium", 2, 4096),
    ("large", 2, 8192),
    ("xlarge", 4, 16384),
    ("2xlarge", 8, 32768),
];
const T3_SIZES: Sizes = &[
    ("nano", 2, 512),
    ("micro", 2, 1024),
    ("small", 2, 2048),
    ("medium", 2, 4096),
    ("large", 2, 8192),
    ("xlarge", 4, 16384),
    ("2xlarge", 8, 32768),
];

/// Burstable families: (family, arm, sizes).
const BURSTABLE: &[(&str, bool, Sizes)] =
    &[("t2", false, T2_SIZES), ("t3", false, T3_SIZES), ("t3a", false, T3_SIZES), ("t4g", true, T3_SIZES)];

/// Families whose memory is proportional to vCPUs: (family, MiB per vCPU, arm).
const PROPORTIONAL: &[(&str, u32, bool)] = &[
    ("m5", 4096, false),
    ("m5a", 4096, false),
    ("m6i", 4096, false),
    ("m6a", 4096, false),
    ("m7i", 4096, false),
    ("m6g", 4096, true),
    ("m7g", 4096, true),
    ("c5", 2048, false),
    ("c5a", 2048, false),
    ("c6i", 2048, false),
    ("c6a", 2048, false),
    ("c7i", 2048, false),
    ("c6g", 2048, true),
    ("c7g", 2048, true),
    ("r5", 8192, false),
    ("r5a", 8192, false),
    ("r6i", 8192, false),
    ("r6a", 8192, false),
    ("r7i", 8192, false),
    ("r6g", 8192, true),
    ("r7g", 8192, true),
];

/// Sizes every proportional family above has: (size, vCPUs).
const PROPORTIONAL_SIZES: &[(&str, u32)] = &[("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16)];

/// Every type berth knows, smallest first within a family.
pub fn all() -> impl Iterator<Item = InstanceType> {
    let burstable = BURSTABLE.iter().flat_map(|&(family, arm, sizes)| {
        sizes.iter().map(move |&(size, vcpus, memory_mib)| InstanceType {
            name: format!("{family}.{size}"),
            memory_mib,
            vcpus,
            arm,
        })
    });
    let proportional = PROPORTIONAL.iter().flat_map(|&(family, per_vcpu, arm)| {
        PROPORTIONAL_SIZES.iter().map(move |&(size, vcpus)| InstanceType {
            name: format!("{family}.{size}"),
            memory_mib: per_vcpu * vcpus,
            vcpus,
            arm,
        })
    });
    burstable.chain(proportional)
}

/// The type called `name`, if berth knows it.
pub fn lookup(name: &str) -> Option<InstanceType> {
    all().find(|t| t.name == name)
}

/// The smallest known type of `current`'s architecture (the images must
/// still run) that registers `memory_mib` and `cpu_units`; among types of
/// the same memory, one of `current`'s family, then the fewest vCPUs.
pub fn smallest_fitting(memory_mib: u64, cpu_units: u64, current: &InstanceType) -> Option<InstanceType> {
    all()
        .filter(|t| t.arm == current.arm)
        .filter(|t| u64::from(t.registered_memory_mib()) >= memory_mib && u64::from(t.cpu_units()) >= cpu_units)
        .min_by_key(|t| (t.memory_mib, t.family() != current.family(), t.vcpus))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t2_nano_registers_about_466_mib() {
        let nano = lookup("t2.nano").unwrap();
        assert_eq!((nano.registered_memory_mib(), nano.cpu_units()), (466, 1024));
    }

    #[test]
    fn estimates_stay_close_to_observed_registrations() {
        // (type, MiB registered as reported for ECS-optimized AMIs): see docs/checks.md.
        for (name, observed) in [("m6i.large", 7821), ("t2.medium", 3952), ("t2.2xlarge", 32176)] {
            let estimate = lookup(name).unwrap().registered_memory_mib();
            let error = (f64::from(estimate) - f64::from(observed)).abs() / f64::from(observed);
            assert!(error < 0.02, "{name}: estimated {estimate}, observed {observed}");
        }
    }

    #[test]
    fn suggests_the_smallest_type_that_fits() {
        let nano = lookup("t2.nano").unwrap();
        assert_eq!(smallest_fitting(500, 0, &nano).unwrap().name, "t2.micro");
        let graviton = lookup("t4g.nano").unwrap();
        assert_eq!(smallest_fitting(500, 0, &graviton).unwrap().name, "t4g.micro");
        let m5 = lookup("m5.large").unwrap();
        assert_eq!(smallest_fitting(9000, 0, &m5).unwrap().name, "m5.xlarge");
        assert!(smallest_fitting(1 << 30, 0, &nano).is_none());
    }
}
