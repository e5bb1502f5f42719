use clap::Parser;
use server::cli::{Cli, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A .env file is for development; production sets real environment variables.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
