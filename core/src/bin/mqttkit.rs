//! The `mqttkit` command-line tool.

fn main() {
    eprintln!("mqttkit: no subcommands yet");
    std::process::exit(2);
}
