//! The counties the demo fills, with synthetic contact blocks and ZIP ranges.

pub struct DemoCounty {
    pub fips: &'static str,
    pub short: &'static str,
    pub weight: u32,
    /// Residential ZIP codes are drawn from these ranges (inclusive).
    pub zips: &'static [(u32, u32)],
}

pub const COUNTIES: &[DemoCounty] = &[
    DemoCounty {
        fips: "06037",
        short: "LA",
        weight: 50,
        zips: &[(90001, 90899), (91001, 91899), (93510, 93599)],
    },
    DemoCounty {
        fips: "06073",
        short: "SD",
        weight: 17,
        zips: &[(91901, 92199)],
    },
    DemoCounty {
        fips: "06059",
        short: "OR",
        weight: 16,
        zips: &[(92602, 92899), (90620, 90749)],
    },
    DemoCounty {
        fips: "06085",
        short: "SC",
        weight: 10,
        zips: &[(94022, 94089), (95002, 95196)],
    },
    DemoCounty {
        fips: "06001",
        short: "AL",
        weight: 8,
        zips: &[(94501, 94662)],
    },
    DemoCounty {
        fips: "06075",
        short: "SF",
        weight: 4,
        zips: &[(94102, 94188)],
    },
    DemoCounty {
        fips: "06019",
        short: "FR",
        weight: 5,
        zips: &[(93601, 93799)],
    },
];

/// Contact blocks for the demo counties. The numbers use the 555-01xx range reserved for
/// fiction and the addresses the example.org domain: nothing here reaches a real office.
pub const CONTACT_SQL: &str = r"
update counties c set
    office_name = c.name || ' County Elections Office',
    phone = '(555) 010-' || lpad((row_number)::text, 4, '0'),
    email = 'elections@' || lower(replace(c.name, ' ', '')) || '.example.org',
    website = 'https://elections.' || lower(replace(c.name, ' ', '')) || '.example.org',
    office_address = '100 Civic Center Plaza, ' || c.name || ', CA',
    office_hours = 'Monday to Friday, 8 a.m. to 5 p.m.; open 7 a.m. to 8 p.m. on Election Day',
    updated_at = now()
from (select fips, row_number() over (order by fips) as row_number from counties) n
where n.fips = c.fips and c.phone is null and c.fips = any($1)";
