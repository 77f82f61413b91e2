// SPDX-License-Identifier: MIT
// encode.mjs TOKENIZER_JSON CORPUS_JSONL - the reference for
// selftests/unit/model_tokjson_npm.c: Hugging Face's own JavaScript
// implementation (@huggingface/tokenizers) encodes each JSON string of
// CORPUS_JSONL and prints one JSON line per input:
// [ids, ids with the special tokens added, decode(ids)].
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";

const [json, corpus] = process.argv.slice(2);
const tok = new Tokenizer(JSON.parse(fs.readFileSync(json, "utf8")), {});
const out = [];
for (const line of fs.readFileSync(corpus, "utf8").split("\n")) {
	if (!line)
		continue;
	const text = JSON.parse(line);
	const ids = tok.encode(text, { add_special_tokens: false }).ids;
	const sp = tok.encode(text, { add_special_tokens: true }).ids;
	const dec = ids.length ? tok.decode(ids) : "";
	out.push(JSON.stringify([ids, sp, dec]));
}
process.stdout.write(out.join("\n") + "\n");
