"""``songbridge``: the command line. Keep this module light: ``songbridge --help`` must answer at once, so each
command's module (and numpy, torch, Qt) is imported only when that command runs."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from songbridge import __version__

#: command path -> "module:function" in songbridge.commands
HANDLERS = {
    ("lyrics", "lint"): "lyrics:lint",
    ("lyrics", "format"): "lyrics:format_",
    ("doctor",): "doctor:run",
    ("generate",): "generate:run",
    ("render",): "render:run",
    ("edit",): "edit:run",
    ("use",): "use:run",
    ("export-midi",): "export_midi:run",
    ("serve",): "serve:run",
    ("play",): "play:run",
    ("gui",): "gui:run",
    ("midi", "learn"): "midi:learn",
    ("daw", "setup"): "daw:setup",
    ("daw", "link"): "daw:link",
    ("daw", "status"): "daw:status",
    ("daw", "pull"): "daw:pull",
    ("daw", "push"): "daw:push",
    ("daw", "land"): "daw:land",
    ("models", "status"): "models:status",
    ("models", "create-tiny"): "models:create_tiny",
    ("models", "parity"): "models:parity",
    ("loop",): "loop:run",
    ("grid",): "analyse:grid",
    ("split",): "analyse:split",
    ("add-part",): "parts:run",
    ("style", "save"): "style:save",
    ("style", "list"): "style:list_",
    ("style", "show"): "style:show",
    ("style", "delete"): "style:delete",
    ("fx", "allow"): "fx:allow",
    ("fx", "allowed"): "fx:allowed",
    ("fx", "revoke"): "fx:revoke",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line and exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="songbridge",
        description="AI song generation inside your DAW workflow: draft lyric timing, generate songs and sections, "
        "audition takes, and land stems in the DAW.",
    )
    p.add_argument("--version", action="version", version=f"songbridge {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    lyr = sub.add_parser("lyrics", help="check and tidy lyrics files (LRC or plain text)")
    lsub = lyr.add_subparsers(dest="lyrics_command", metavar="ACTION", parser_class=_Parser)
    lint = lsub.add_parser("lint", help="flag lines the model will find crowded, sparse or too late")
    lint.add_argument("file", help="an .lrc or .txt file")
    lint.add_argument("--model", choices=("full", "base"), default="full",
                      help="the model's length limit: full = 285 s (default), base = 95 s")
    lint.add_argument("--end", type=float, metavar="S", help="song end in seconds (closes the last line's span)")
    lint.add_argument("--sparse-span", type=float, default=8.0, metavar="S",
                      help="shortest span that can be sparse (default 8 s)")
    lint.add_argument("--sparse-rate", type=float, default=0.75, metavar="SYL_PER_S",
                      help="below this many syllables a second a long span is sparse (default 0.75)")
    lint.add_argument("--all", action="store_true", help="also list info items (frame quantisation)")
    lint.add_argument("--json", action="store_true", help="print the findings as JSON")
    fmt = lsub.add_parser("format", help="print the lyrics as normalised LRC")
    fmt.add_argument("file", help="an .lrc or .txt file")
    fmt.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    fmt.add_argument("--auto-time", action="store_true", help="give untimed lines times on bar lines")
    fmt.add_argument("--bpm", type=float, default=None, help="tempo for --auto-time (default 120)")
    fmt.add_argument("--meter", default="4/4", help="time signature for --auto-time (default 4/4)")
    fmt.add_argument("--bars-per-line", type=float, default=2.0, help="bars per line for --auto-time (default 2)")
    fmt.add_argument("--sections", metavar="SPEC",
                     help='sections for --auto-time, e.g. "intro:4,verse:16,chorus:8"')

    gen = sub.add_parser("generate", help="lyrics + style -> a song project with rendered takes",
                         description="Create or update a NAME.songbridge project from lyrics (.lrc or .txt) and render "
                         "takes. Untimed lyrics are timed on bar lines first. Options override --settings.")
    gen.add_argument("lyrics", nargs="?", help="an .lrc or .txt lyrics file (or lyrics = ... in --settings)")
    gen.add_argument("-o", "--output", required=True, metavar="PROJECT", help="project folder (NAME.songbridge)")
    gen.add_argument("--settings", metavar="TOML", help="a song settings file (title, style, bpm, key, sections ...)")
    gen.add_argument("--title")
    gen.add_argument("--style", help='style words, e.g. "dreamy synth pop, female vocal"')
    gen.add_argument("--style-audio", metavar="FILE", dest="style_audio",
                     help="a reference clip (>= 10 s; its middle 10 s set the style; copied into the project)")
    gen.add_argument("--style-preset", metavar="NAME", dest="style_preset",
                     help="a saved style (songbridge style list); wins over --style and --style-audio")
    gen.add_argument("--bpm", type=float, help="tempo (default: from the style)")
    gen.add_argument("--key", help='e.g. "A minor", "F#m", "Bb major"')
    gen.add_argument("--meter", help="time signature, e.g. 4/4 or 6/8")
    gen.add_argument("--sections", metavar="SPEC", help='e.g. "intro:4,verse:16,chorus:8,outro:4" (bars)')
    gen.add_argument("--takes", type=int, help="how many takes (default 1)")
    gen.add_argument("--seed", type=int, help="seed of the first take (the next takes use seed+1 ...)")
    gen.add_argument("--backend", help="guide, diffrhythm ... (default: the best available)")
    gen.add_argument("--duration", type=float, metavar="S", help="song length (default: from sections or lyrics)")
    gen.add_argument("--bars-per-line", type=float, dest="bars_per_line", help="auto-timing: bars per line (2)")
    gen.add_argument("--models", metavar="DIR", help="model folder (default: setting or SONGBRIDGE_MODELS)")
    gen.add_argument("--steps", type=int, help="neural backends: sampler steps (default 32)")
    gen.add_argument("--cfg", type=float, help="neural backends: guidance strength (default 4.0)")
    gen.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                     help="neural backends on the CPU: compute precision (default: SONGBRIDGE_PRECISION, the "
                     "engine.toml setting, else measured on this CPU)")
    gen.add_argument("--engine", metavar="URL",
                     help="run on a remote engine: http(s)://HOST:PORT or HOST:PORT (songbridge serve --engine "
                     "there); 'local' (default) or 'thread'")
    gen.add_argument("--key-file", metavar="FILE", help="the remote engine's shared key (or SONGBRIDGE_ENGINE_KEY)")
    gen.add_argument("--engine-ca", metavar="PEM", dest="engine_ca",
                     help="trust this certificate for an https:// engine (e.g. its self-signed one)")
    gen.add_argument("--param", action="append", metavar="KEY=VALUE",
                     help="a backend parameter, e.g. solver=heun, grid=few-step, g2p=espeak (repeatable)")

    ren = sub.add_parser("render", help="a take's stems and mix through effect chains, as Broadcast WAV or FLAC",
                         description="Render a take to renders/<take>/: stems and mix through their effect chains, "
                         "the mix at a loudness target under a true-peak ceiling, each file stamped with its "
                         "position (bext TimeReference).")
    ren.add_argument("project", help="the project folder")
    ren.add_argument("--take", metavar="ID", help="which take (default: the song as comped: each section's "
                     "accepted take, else the song's accepted or newest take)")
    ren.add_argument("--fx", action="append", metavar="STEM=PRESET",
                     help="effect chain for a stem or the master, e.g. vocal=vocal-clean master=master-gentle "
                     "(repeatable; PRESET may be a .toml path or 'none')")
    ren.add_argument("--format", choices=("wav", "flac"), default="wav")
    ren.add_argument("--bits", default="24", help="16, 24 or 32f (default 24)")
    ren.add_argument("--loudness", default="-14", metavar="LUFS", help="mix loudness target (default -14; 'off')")
    ren.add_argument("--ceiling", type=float, default=-1.0, metavar="DBTP", help="true-peak ceiling (default -1)")
    ren.add_argument("--engine", choices=("local", "thread"), default="local",
                     help="run in a worker process (default) or in this process")

    exm = sub.add_parser("export-midi", help="a guide take as a MIDI file: vocal with lyrics, chords, bass, drums",
                         description="Write a guide take's MIDI (a track per part: the vocal melody with each syllable "
                         "as a lyric event, chords, bass, drums on channel 10; the song's tempo map; a marker per "
                         "section) to renders/midi/ in the project, or to -o FILE. --section writes that section "
                         "only, starting at its first beat, to place at its bar.")
    exm.add_argument("project", help="the project folder")
    exm.add_argument("--take", metavar="ID", help="which take (default: the accepted take, else the newest guide take)")
    exm.add_argument("--section", metavar="NAME", help="only this section (e.g. \"Chorus 1\")")
    exm.add_argument("-o", "--output", metavar="FILE", help="where to write the .mid")

    gu = sub.add_parser("gui", help="the desktop app: lyric timeline, generation, takes, effects, audition")
    gu.add_argument("project", nargs="?",
                    help="a project folder, or a song settings .toml (such as examples/neon-rain.toml): its project "
                    "is created in your documents folder with a first guide take")
    gu.add_argument("--engine", default="local", metavar="URL",
                    help="'local' (a worker process, default), 'thread', or a remote engine: http(s)://HOST:PORT")
    gu.add_argument("--key-file", metavar="FILE", help="the remote engine's shared key (or SONGBRIDGE_ENGINE_KEY)")
    gu.add_argument("--engine-ca", metavar="PEM", dest="engine_ca",
                    help="trust this certificate for an https:// engine (e.g. its self-signed one)")
    gu.add_argument("--audio", default="auto", metavar="DEVICE", help="output device, 'auto' or 'off'")
    gu.add_argument("--screenshot", metavar="PNG", help="save a screenshot after start-up and quit")
    gu.add_argument("--models", metavar="DIR", help="model folder for this run (default: the one chosen in "
                    "Edit > Preferences, else SONGBRIDGE_MODELS)")
    _bridge_options(gu)
    gu.add_argument("--no-bridge", action="store_true", help="do not serve OSC or MIDI (the app alone)")

    ply = sub.add_parser("play", help="audition a take: A/B against another, loop a region, pick the device",
                         description="Play a take through its effect chains. Keys: space play/pause, a A/B, "
                         "l loop, arrows seek, 0 start, m/s mute/solo the vocal, q quit.")
    ply.add_argument("project", nargs="?")
    ply.add_argument("--take", metavar="ID", help="the take (default: the newest)")
    ply.add_argument("--ab", metavar="OTHER", help="a second take to compare with A/B")
    ply.add_argument("--loop", metavar="A-B", help="loop between A and B seconds, e.g. 30-45.5")
    ply.add_argument("--device", metavar="NAME", help="output device (name or part of it, e.g. JACK)")
    ply.add_argument("--list-devices", action="store_true", help="list output devices and exit")

    srv = sub.add_parser("serve", help="the headless DAW bridge (OSC, MIDI, engine), or the engine alone (--engine)",
                         description="Serve a project to DAWs over OSC (and MIDI), running jobs on the engine; or, "
                         "with --engine, serve the generation engine to other machines.")
    srv.add_argument("project", nargs="?", help="the project the DAW works on")
    _bridge_options(srv)
    srv.add_argument("--audio", metavar="DEVICE", help="audition through this output ('default' for the default)")
    srv.add_argument("--engine-address", metavar="URL",
                     help="use a remote engine: http(s)://HOST:PORT or HOST:PORT (songbridge serve --engine there)")
    srv.add_argument("--engine-ca", metavar="PEM", dest="engine_ca",
                     help="trust this certificate for an https:// engine (e.g. its self-signed one)")
    srv.add_argument("--engine", action="store_true", help="serve the generation engine instead")
    srv.add_argument("--listen", default="127.0.0.1:11310", metavar="HOST:PORT",
                     help="engine listen address (default 127.0.0.1:11310; other interfaces only when given)")
    srv.add_argument("--key-file", metavar="FILE", help="the engine's shared key (default: SONGBRIDGE_ENGINE_KEY)")
    srv.add_argument("--http", action="store_true", help=argparse.SUPPRESS)  # the API is always HTTP now
    srv.add_argument("--tls-cert", metavar="PEM", help="with --engine: serve HTTPS with this certificate")
    srv.add_argument("--tls-key", metavar="PEM", help="with --engine: the certificate's private key")
    srv.add_argument("--ray", metavar="ADDRESS",
                     help="with --engine: run as a Ray Serve application (pip install \".[cluster]\"): 'local' "
                     "starts Ray here, 'auto' or HOST:PORT joins the cluster `ray start` made")
    srv.add_argument("--replicas", type=int, metavar="N",
                     help="with --ray: engine replicas (default: one per --gpus entry, or per GPU in the cluster)")
    srv.add_argument("--gpus", metavar="LIST",
                     help="one worker per GPU: 0,1 or all (every visible GPU); cpu:N for N workers without GPU "
                     "(default: one worker)")
    srv.add_argument("--print-config", action="store_true", help="print the settings in effect and exit")

    mid = sub.add_parser("midi", help="MIDI map tools")
    midsub = mid.add_subparsers(dest="midi_command", metavar="ACTION", parser_class=_Parser)
    ml = midsub.add_parser("learn", help="bind the next note or CC you send to a command, in a map file")
    ml.add_argument("bind", metavar="COMMAND",
                    help="generate_song, generate_section, generate_bars, play, stop, ab, land ...")
    ml.add_argument("--map", default="songbridge-midi.toml", metavar="TOML", help="map file to add the binding to")
    ml.add_argument("--section", help="for generate_section")
    ml.add_argument("--bars", nargs=2, type=float, metavar=("START", "END"), help="for generate_bars")
    ml.add_argument("--api", choices=("auto", "jack", "alsa"), default="auto")
    ml.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a message (default 30)")

    daw = sub.add_parser("daw", help="the DAW side: set up Ardour's landing action, link a project to a session")
    dsub = daw.add_subparsers(dest="daw_command", metavar="ACTION", parser_class=_Parser)
    dset = dsub.add_parser("setup", help="install SongBridge's landing action in Ardour (run it while Ardour is closed)")
    dset.add_argument("daw", choices=("ardour",))
    dset.add_argument("--slot", type=int, metavar="N", help="Ardour action slot to use (default: the first free one)")
    dset.add_argument("--config", metavar="DIR", help="Ardour's configuration folder (default: ~/.config/ardour7)")
    dlink = dsub.add_parser("link", help="where this project's stems land: an Ardour session, or a folder")
    dlink.add_argument("project")
    dlink.add_argument("adapter", choices=("ardour", "generic", "reaper", "live", "bitwig"))
    dlink.add_argument("session", nargs="?", metavar="SESSION",
                       help="ardour: the session folder; others: the folder for stamped stems")
    dlink.add_argument("--create", action="store_true", help="create the Ardour session at the song's tempo and meter")
    dlink.add_argument("--reaper-action", dest="reaper_action", metavar="ID", help="reaper: the command ID REAPER gave "
                       "SongBridge's landing ReaScript (kept in SESSION/Scripts/)")
    dlink.add_argument("--rate", type=int, choices=(44100, 48000, 88200, 96000, 176400, 192000), metavar="HZ",
                       help="--create: the session's sample rate (default: the running JACK server's, else the "
                       "song's)")
    dlink.add_argument("--prefix", default="SB", help="track name prefix (default SB: 'SB vocal', 'SB drums' ...)")
    dlink.add_argument("--osc-host", dest="osc_host", metavar="HOST", help="the DAW's OSC host (default: kept, "
                       "127.0.0.1)")
    dlink.add_argument("--osc-port", dest="osc_port", type=int, metavar="PORT", help="the DAW's OSC port (Ardour: "
                       "3819, or the next free port it took; 0 = find it)")
    dpull = dsub.add_parser("pull", help="the Ardour session's tempo map and markers into the song (tempo; a "
                            "section per range marker, or from each marker to the next)")
    dpull.add_argument("project")
    dpush = dsub.add_parser("push", help="the song's sections as range markers (sb:<name>) and its tempo into the "
                            "closed Ardour session")
    dpush.add_argument("project")
    dstat = dsub.add_parser("status", help="what landing this project's stems would do right now: for Ardour, "
                            "whether it answers OSC, which session it has open, the landing action, the rates, "
                            "each with what to do")
    dstat.add_argument("project")
    dland = dsub.add_parser("land", help="land a take's stems in the DAW through the project's DAW link (in the app or "
                            "serve when it has the project open)")
    dland.add_argument("project")
    dland.add_argument("--take", metavar="ID", help="which take (default: the section's accepted take, else the "
                       "song's)")
    dland.add_argument("--section", metavar="NAME", help="land one section (default: the whole song, its loop clips "
                       "too)")

    lp = sub.add_parser("loop", help="a loop of N bars at a tempo (or a bed of S seconds) from a prompt, with Stable "
                        "Audio Open", description="Make loops (--bars, at --bpm or the project's tempo) or beds "
                        "(--seconds) as loop clips of a project at --at-bar (made at the loop's tempo when it does not exist); "
                        "a loop keeps its own prompt and never changes the song's style, backend or takes. A loop "
                        "is exactly N bars long, locked to its tempo when a steady beat is found, and wraps without a "
                        "click. Stable Audio Open Small (up to 11.9 s) is used when the loop fits, else 1.0 (47.5 s). "
                        "Weights: Stability AI Community License.")
    lp.add_argument("prompt", help='e.g. "tech house drum loop" (the tempo and bar count are added)')
    lp.add_argument("-o", "--output", required=True, metavar="PROJECT")
    lp.add_argument("--bars", type=float, help="loop length in bars")
    lp.add_argument("--seconds", type=float, help="a bed of this many seconds instead of a loop")
    lp.add_argument("--bpm", type=float, help="tempo (default: the project's, or 120 for a new one)")
    lp.add_argument("--at-bar", type=float, default=1.0, dest="at_bar",
                    help="the bar the loop clip goes at, in the app's Loops lane and in the DAW (default 1)")
    lp.add_argument("--takes", type=int, default=1, help="how many takes (seeds seed, seed+1, ...)")
    lp.add_argument("--seed", type=int)
    lp.add_argument("--model", choices=("small", "1.0"), help="force Stable Audio Open Small or 1.0")
    lp.add_argument("--steps", type=int, help="sampler steps (default: Small 8, 1.0 100)")
    lp.add_argument("--cfg", type=float, help="guidance (default: Small 1, 1.0 7)")
    lp.add_argument("--negative", help="what to steer away from (with --cfg above 1)")
    lp.add_argument("--variation", metavar="FILE", help="make a variation of this clip (audio to audio)")
    lp.add_argument("--strength", type=float, default=0.7, help="--variation: 1 all new, near 0 the clip")
    lp.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                    help="on the CPU: compute precision (default: SONGBRIDGE_PRECISION, the engine.toml setting, "
                    "else measured on this CPU)")
    lp.add_argument("--models", metavar="DIR", help="model folder (default: setting or SONGBRIDGE_MODELS)")

    grd = sub.add_parser("grid", help="a take's (or a file's) beats, downbeats and tempo; --lock puts it on the grid",
                         description="Find the beats and downbeats of a take (the newest, or --take) or of an audio "
                         "file, with Beat This! when its checkpoint is in the models folder, else a DSP tracker "
                         "guided by the song's tempo and bars. Prints tempo, drift and the first downbeat, writes "
                         "beats.csv and markers.csv (REAPER's marker list) beside the take. --lock writes the take's "
                         "stems stretched onto the project's grid (pitch kept) to takes/<id>/locked/, or a file's "
                         "audio to -o OUT.wav.")
    grd.add_argument("target", metavar="PROJECT|FILE")
    grd.add_argument("--take", help="which take (default: the newest)")
    grd.add_argument("--lock", action="store_true", help="also write the audio locked to the grid")
    grd.add_argument("--bpm", type=float, help="lock to this tempo (default: the song's; for a file, the measured "
                     "tempo rounded)")
    grd.add_argument("-o", "--output", metavar="OUT", help="for a file: the locked WAV (with --lock) or a folder "
                     "for its beat maps")
    grd.add_argument("--bars", type=int, metavar="N", help="for --lock on a file: make it exactly N bars (after any "
                     "pickup before the first downbeat; default: the whole bars it covers)")
    grd.add_argument("--models", metavar="DIR", help="model folder (default: setting or SONGBRIDGE_MODELS)")
    spl = sub.add_parser("split", help="split a take (or any audio file) into vocal, drums, bass and other stems",
                         description="Separate with HTDemucs from the models folder (MODELS/HTDemucs/). A take's "
                         "stems become the split ones (its mix is kept; record.json names the model and its "
                         "sha256); a file's stems go to -o DIR.")
    spl.add_argument("target", metavar="PROJECT|FILE")
    spl.add_argument("--take", help="which take (default: the newest)")
    spl.add_argument("--two", action="store_true", help="vocal and instrumental instead of four stems")
    spl.add_argument("-o", "--output", metavar="DIR", help="for a file: where its stems go")
    spl.add_argument("--models", metavar="DIR", help="model folder (default: setting or SONGBRIDGE_MODELS)")

    from songbridge.commands import parts

    parts.add_parser(sub)

    mod = sub.add_parser("models", help="model folder status, the tiny random test model, parity with the reference")
    msub = mod.add_subparsers(dest="models_command", metavar="ACTION", parser_class=_Parser)
    ms = msub.add_parser("status", help="what the model folder holds")
    ms.add_argument("--models", metavar="DIR")
    mt = msub.add_parser("create-tiny", help="write a tiny random-weight model to DIR (for tests and trying things)")
    mt.add_argument("dir")
    mt.add_argument("--kind", choices=("diffrhythm", "stable-audio", "htdemucs", "beat-this", "ace-step"),
                    default="diffrhythm", help="diffrhythm (with a tiny MuQ-MuLan; default), stable-audio (1.0 and "
                    "Small, with a tiny T5), htdemucs (stem separation), beat-this or ace-step (turbo and base, "
                    "with a tiny VAE and Qwen3)")
    mt.add_argument("--variant", choices=("full", "base"), default="full")
    mt.add_argument("--seed", type=int, default=0)
    mt.add_argument("--vocab", metavar="PATH", help="vocab.json to use (default: a vocabulary of our own symbols)")
    mt.add_argument("--no-style-encoder", action="store_true", dest="no_style_encoder",
                    help="leave out the tiny random MuQ-MuLan (styles then come from a hash of the prompt)")
    mp = msub.add_parser("parity", help="check this implementation against reference fixtures",
                         description="One PASS/FAIL line per case and a final 'N passed, N failed'. KIND: "
                         "diffrhythm (default when only a folder is given), muq-mulan, beat-this or stable-audio.")
    mp.add_argument("kind", metavar="KIND", help="diffrhythm, muq-mulan, beat-this or stable-audio (or give "
                    "FIXTURE_DIR alone)")
    mp.add_argument("fixture_dir", nargs="?", metavar="FIXTURE_DIR")
    mp.add_argument("--vocab", metavar="PATH")

    sty = sub.add_parser("style", help="saved styles: a MuQ-MuLan vector from a prompt or a reference clip, by name",
                         description="Style presets live in SONGBRIDGE_STYLES or the config folder's styles/; "
                         "use one with generate --style-preset NAME, in the app's Generate panel or over OSC.")
    ssub = sty.add_subparsers(dest="style_command", metavar="ACTION", parser_class=_Parser)
    ss = ssub.add_parser("save", help="embed a prompt or a clip and save it under NAME")
    ss.add_argument("name")
    src = ss.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", help='style words, e.g. "dusty boom bap, male rap, 90 bpm"')
    src.add_argument("--audio", metavar="FILE", help="a reference clip of at least 10 s")
    ss.add_argument("--models", metavar="DIR", help="model folder with MuQ-MuLan-large (default: setting)")
    ss.add_argument("--force", action="store_true", help="replace a preset of the same name")
    ssub.add_parser("list", help="the saved styles")
    sh = ssub.add_parser("show", help="one saved style: its source, encoder and vector summary")
    sh.add_argument("name")
    sd = ssub.add_parser("delete", help="remove a saved style")
    sd.add_argument("name")

    fx = sub.add_parser("fx", help="external plugins (VST3/AU/LV2) allowed to run on this machine",
                        description="A plugin is native code: one that a project or an effect chain names is loaded "
                        "only after you allow that exact file here (its path and the sha256 of its bytes; changing "
                        "them withdraws the consent). Built-in effects need no consent.")
    fsub = fx.add_subparsers(dest="fx_command", metavar="ACTION", parser_class=_Parser)
    fa = fsub.add_parser("allow", help="allow this plugin file or bundle, as its bytes are now")
    fa.add_argument("path", metavar="PATH", help="the plugin: a .vst3 or .lv2 bundle folder, a .component, a file")
    fsub.add_parser("allowed", help="the plugins allowed here, and whether each is unchanged")
    fr = fsub.add_parser("revoke", help="withdraw the consent for a plugin")
    fr.add_argument("path", metavar="PATH")

    from songbridge.commands import edit  # its parser only (the command's imports are in run)

    edit.add_parser(sub)
    from songbridge.commands import use  # its parser only

    use.add_parser(sub)
    doc = sub.add_parser("doctor", help="check this machine: Python, torch/CUDA, audio, MIDI, G2P data, models")
    doc.add_argument("--models", metavar="DIR", help="model folder to check (default: setting or SONGBRIDGE_MODELS)")
    return p


def _bridge_options(cmd: argparse.ArgumentParser) -> None:
    """The DAW bridge's options, the same for ``serve`` and ``gui`` (the app hosts the bridge)."""
    cmd.add_argument("--osc", default="127.0.0.1:11300", metavar="HOST:PORT",
                     help="OSC listen address (default 127.0.0.1:11300)")
    cmd.add_argument("--allow", metavar="IP,IP", help="clients allowed when listening beyond loopback")
    cmd.add_argument("--reply-port", type=int, metavar="PORT",
                     help="send replies to this port on the client's host (default: the sender's port; 11301 "
                     "suits control surfaces)")
    cmd.add_argument("--auto-land", action="store_true", help="land stems as soon as a job from the DAW finishes")
    cmd.add_argument("--land-folder", metavar="DIR", help="where the generic adapter writes stamped stems")
    cmd.add_argument("--midi", choices=("auto", "jack", "alsa", "off"), default="auto",
                     help="MIDI ports SongBridge:in and SongBridge-out:out through this API (auto: JACK, then "
                     "ALSA; off when neither runs)")
    cmd.add_argument("--midi-map", metavar="TOML", help="note/CC -> command map (default: the shipped map)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    path = tuple(x for x in (args.command, getattr(args, f"{args.command}_command", None)) if x)
    target = HANDLERS.get(path)
    if target is None:
        sub = {"lyrics": "lyrics", "models": "models", "midi": "midi", "daw": "daw", "style": "style",
               "fx": "fx"}.get(args.command or "")
        if sub:
            parser.parse_args([sub, "--help"])
        parser.print_help()
        return 2 if args.command else 0
    module_name, func_name = target.split(":")
    try:
        from engine.errors import SongBridgeError

        module = importlib.import_module(f"songbridge.commands.{module_name}")
        return int(getattr(module, func_name)(args) or 0)
    except KeyboardInterrupt:
        print("songbridge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``songbridge lyrics lint --json | head``): stop quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except SongBridgeError as exc:
        if args.debug:
            raise
        print(f"songbridge: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: one line unless --debug
        if args.debug:
            raise
        print(f"songbridge: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
