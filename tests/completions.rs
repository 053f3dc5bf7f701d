//! `sitepack completions SHELL` prints a completion script generated from the clap
//! definition: it completes `sitepack`, knows the real subcommands, and bash can read it.

use crate::util::{TestSite, run, run_tool};

#[test]
fn bash_completions_define_sitepack_and_name_its_subcommands() {
    let script = run(["completions", "bash"]).expect(0).stdout;
    assert!(
        script.contains("complete -F _sitepack") && script.contains("sitepack"),
        "{script}"
    );
    for subcommand in ["create", "validate", "restore", "auto", "completions"] {
        assert!(
            script.contains(subcommand),
            "no `{subcommand}` in:\n{script}"
        );
    }
    let scratch = TestSite::bare();
    let path = scratch.out_dir().join("sitepack.bash");
    std::fs::write(&path, &script).unwrap();
    run_tool("bash", &["-n", path.to_str().unwrap()], &scratch.out_dir()).expect(0);
}

#[test]
fn every_shell_has_a_script_and_an_unknown_one_is_a_usage_error() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = run(["completions", shell]).expect(0).stdout;
        assert!(script.contains("sitepack"), "{shell}: {script}");
    }
    let unknown = run(["completions", "tcsh"]).expect(2);
    assert!(unknown.stderr.contains("tcsh"), "{}", unknown.stderr);
}
