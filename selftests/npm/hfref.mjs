// SPDX-License-Identifier: MIT
// hfref.mjs encode|decode TOKENIZER_JSON FILE - the reference for
// selftests/fs/model_hftok.c, from Hugging Face's JavaScript
// implementation (@huggingface/tokenizers), in a form C reads without a
// JSON library:
//   encode: each line of FILE is a text in hex (UTF-8); prints its ids
//     with the special tokens added, space-separated.
//   decode: each line of FILE is ids, space-separated; prints
//     "xRUST xJS": the hex of decode(ids) with the Rust rule for a run of
//     byte tokens that is not UTF-8, then of JS's own decode(ids). They
//     differ only there: JS's ByteFallback keeps a bad run's valid
//     characters (TextDecoder), Rust's tokenizers make each of its bytes
//     U+FFFD, which gpulease follows (Documentation/models.md,
//     "Tokenizers"). Neither cleans up spaces before punctuation: that
//     is transformers' tokenizer_config.json option (false in Llama 2's,
//     JS's default true without one), not part of tokenizer.json.
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";

const [mode, json, file] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(json, "utf8"));
const js = new Tokenizer(config, {});
const rust = new Tokenizer(config, {});
const strict = new TextDecoder("utf-8", { fatal: true });
for (const d of rust.decoder.decoders ?? [rust.decoder]) {
	if (d.config.type !== "ByteFallback")
		continue;
	d.text_decoder = {
		decode(bytes) {
			try {
				return strict.decode(bytes);
			} catch {
				return "\ufffd".repeat(bytes.length);
			}
		},
	};
}
const hex = (s) => Buffer.from(s, "utf8").toString("hex");
const raw = { clean_up_tokenization_spaces: false };
const out = [];
for (const line of fs.readFileSync(file, "utf8").split("\n").slice(0, -1)) {
	if (mode === "encode") {
		const text = Buffer.from(line, "hex").toString("utf8");
		out.push(js.encode(text, { add_special_tokens: true }).ids
			.join(" "));
		continue;
	}
	const ids = line ? line.split(" ").map(Number) : [];
	out.push(ids.length ?
		 "x" + hex(rust.decode(ids, raw)) + " x" +
		 hex(js.decode(ids, raw)) :
		 "x x");
}
process.stdout.write(out.join("\n") + "\n");
