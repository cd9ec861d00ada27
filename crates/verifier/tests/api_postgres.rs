//! The same scenarios against PostgreSQL (a throw-away server started from
//! the test: Debian's postgresql binaries, loopback, free port).

mod common;

use common::scenarios;

#[test]
fn postgres_scenarios() {
    let Some(pg) = common::pg::Postgres::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let full = pg.create_db("full_flow");
    rt.block_on(scenarios::full_flow(Some(full)));
    let ima = pg.create_db("ima_flow");
    rt.block_on(scenarios::ima_flow(Some(ima)));
    let repl = pg.create_db("replicas");
    rt.block_on(scenarios::two_replicas(repl));
    let conc = pg.create_db("concurrent");
    rt.block_on(scenarios::concurrent_rounds(Some(conc)));
    let sw = pg.create_db("software_root");
    rt.block_on(scenarios::software_root(Some(sw)));
    drop(rt);
    drop(pg);
}
