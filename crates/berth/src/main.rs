mod daemon_cmd;

fn main() {
    let _ = daemon_cmd::run;
}
