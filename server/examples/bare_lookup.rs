//! The limit for this stack, for `make bench`: the look-up's own queries (the same
//! `app::voter::store` functions the app calls) behind a bare axum route, with no Leptos, no
//! middleware and no rate limits. `make bench` loads both with the same requests.
//!
//! `DATABASE_URL=... BARE_ADDR=127.0.0.1:3211 cargo run --release --example bare_lookup`

use app::voter::{BallotStory, LookupFields, store};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Form, Json, Router};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")?;
    let addr = std::env::var("BARE_ADDR").unwrap_or_else(|_| "127.0.0.1:3211".to_owned());
    let connections: u32 = std::env::var("DATABASE_MAX_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect(&url)
        .await?;
    let app = Router::new()
        .route("/api/lookup", post(lookup))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("bare look-up on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn lookup(
    State(pool): State<PgPool>,
    Form(fields): Form<LookupFields>,
) -> Result<Json<Option<BallotStory>>, StatusCode> {
    let now = chrono::Utc::now();
    let identity = fields
        .parse(now.date_naive())
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    let internal = |_| StatusCode::INTERNAL_SERVER_ERROR;
    let mut conn = pool.acquire().await.map_err(internal)?;
    let Some(voter) = store::find_voter(&mut *conn, &identity)
        .await
        .map_err(internal)?
    else {
        return Ok(Json(None));
    };
    let story = store::story(&mut conn, voter, now)
        .await
        .map_err(internal)?;
    Ok(Json(story))
}
