//! The example `calc_service` prints what its walkthrough promises (the README quotes it).

#[allow(dead_code)]
#[path = "../examples/calc_service.rs"]
mod calc_service;

#[tokio::test]
async fn the_example_prints_the_readme_text() {
    let server = gnat_test_support::NatsServer::start();
    let mut out = Vec::new();
    calc_service::run(&server.url(), &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "started calc 1.0.0
calc.add 1,2,3 -> 6
calc.add 1,x -> error 400: invalid digit found in string
calc.echo hello -> hello
found calc 1.0.0: calc.add, calc.echo (adds numbers and echoes)
add: 2 requests, 1 errors, last error \"400:invalid digit found in string\"
echo: 1 requests, 0 errors, last error \"\"
stopped, finished: true
"
    );
}
