use anyhow::{Context, bail};
use app::auth::password;
use app::auth::users::{self, NewAdmin, Role};
use app::domain::CountyFips;
use clap::{Subcommand, ValueEnum};
use rand::Rng;
use sqlx::PgPool;
use std::io::Read;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator (the first state administrator comes from here).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "state-admin")]
        role: RoleArg,
        /// The county, for county roles.
        #[arg(long)]
        county: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        /// When the account exists, give it a new password instead of failing.
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    StateAdmin,
    CountyAdmin,
    CountyStaff,
    Auditor,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::StateAdmin => Role::StateAdmin,
            RoleArg::CountyAdmin => Role::CountyAdmin,
            RoleArg::CountyStaff => Role::CountyStaff,
            RoleArg::Auditor => Role::Auditor,
        }
    }
}

pub async fn run(pool: &PgPool, command: AdminCommand) -> anyhow::Result<()> {
    let AdminCommand::Create {
        email,
        name,
        role,
        county,
        password_stdin,
        replace,
    } = command;
    let role = Role::from(role);
    let county = county
        .map(|c| CountyFips::parse(&c))
        .transpose()
        .context("--county")?;
    match (role, county) {
        (Role::StateAdmin, Some(_)) => bail!("a state administrator has no --county"),
        (Role::CountyAdmin | Role::CountyStaff, None) => bail!("county roles need --county"),
        _ => {}
    }
    let (secret, generated) = if password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password")?;
        let s = s.trim_end_matches(['\r', '\n']).to_owned();
        // The portal's rules for a chosen password: long enough, not the address, not common.
        if let Some(why) = app::auth::password::refusal(&s, &s, &email) {
            bail!("{why}");
        }
        (s, false)
    } else {
        (generate_password(), true)
    };
    let hash = password::hash(secret.clone()).await?;
    let mut tx = pool.begin().await?;
    let new = NewAdmin {
        email: &email,
        display_name: &name,
        password_hash: &hash,
        role,
        county_fips: county.as_ref().map(CountyFips::as_str),
    };
    let (id, created) = users::upsert(&mut tx, &new, replace).await?;
    if !created && !replace {
        bail!("an administrator with that email exists (use --replace to set a new password)");
    }
    tx.commit().await?;
    if created {
        println!("administrator created (id {id}, {})", role.code());
    } else {
        println!("administrator exists (id {id}): password replaced; role and county unchanged");
    }
    println!("  email:    {email}");
    if generated {
        println!("  password: {secret}");
    }
    Ok(())
}

/// 20 characters from an alphabet without look-alikes: about 115 bits.
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
