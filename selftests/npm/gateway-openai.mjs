// SPDX-License-Identifier: MIT
// gateway-openai.mjs CHECK... - the checks of selftests/sh/gateway-openai.sh:
// OpenAI's own Node client (npm "openai", unmodified) against
// gpulease-gateway, in one process (the client takes a second to load on
// a busy machine). Prints one line per check, "CHECK ok [NOTE]" or
// "CHECK fail: WHY" (its stack on stderr), and exits 1 if one failed.
// Environment: GW (the gateway's base URL, the client gets GW/v1), KEY
// (the API key; default "none"), WANT (a file holding the daemon's greedy
// text for "Once upon a time", 8 tokens, read through infer) and
// PROMPT_TOKENS (the daemon's count of that prompt). "version" notes the
// client's version.
import OpenAI from "openai";
import fs from "fs";

const connect = (apiKey) => new OpenAI({
	baseURL: `${process.env.GW}/v1`,
	apiKey,
	maxRetries: 0,		// a 429 or 5xx is an answer to check, not retried
	timeout: 60000,
});
const client = connect(process.env.KEY || "none");
const WANT = process.env.WANT ? fs.readFileSync(process.env.WANT, "utf8") :
	     null;
const PROMPT = "Once upon a time";
const GREEDY = { model: "m1", prompt: PROMPT, max_tokens: 8, temperature: 0 };

function is(want, got, what) {
	const w = JSON.stringify(want), g = JSON.stringify(got);
	if (w !== g)
		throw new Error(`${what}: want ${w}, got ${g}`);
}

function ok(cond, what) {
	if (!cond)
		throw new Error(what);
}

// the counts of a usage object
const counts = (u) => u && [u.prompt_tokens, u.completion_tokens,
			    u.total_tokens];

// the counts the daemon made for GREEDY
function greedyUsage() {
	const p = Number(process.env.PROMPT_TOKENS);
	ok(p > 0, `PROMPT_TOKENS '${process.env.PROMPT_TOKENS}'`);
	return [p, 8, p + 8];
}

// fn() must throw the client's error class cls with this status and
// these fields of the error object; returns the error
async function raises(cls, status, fields, fn) {
	let err = null;
	try {
		await fn();
	} catch (e) {
		err = e;
	}
	ok(err, `no error, want ${cls.name} ${status}`);
	ok(err instanceof cls,
	   `${err.constructor.name} (${err.message}), want ${cls.name}`);
	is(status, err.status, `${cls.name} status`);
	for (const [k, v] of Object.entries(fields))
		is(v, err[k], `${cls.name}.${k}`);
	ok(typeof err.error?.message === "string" && err.error.message,
	   `${cls.name}: the error object has no message`);
	ok(/^gw-/.test(err.requestID), `requestID '${err.requestID}'`);
	return err;
}

// a whole completion as OpenAI's reference describes it
function completion(c, model, n) {
	is("text_completion", c.object, "object");
	ok(typeof c.id === "string" && c.id, `id '${c.id}'`);
	ok(Number.isInteger(c.created) && c.created > 0,
	   `created '${c.created}'`);
	is(model, c.model, "model");
	is(n, c.choices.length, "choices");
	c.choices.forEach((ch, i) => {
		is(i, ch.index, "index");
		is(null, ch.logprobs, "logprobs");
		ok(typeof ch.text === "string", "text not a string");
	});
}

// every chunk of a streamed request's reply, checked as chunks; the
// text and finish of choice 0 and the usage chunk (if any)
async function collect(req) {
	const r = { text: "", texts: [], finish: [], usage: null,
		    ids: new Set() };
	const { data: stream, response } = await req.withResponse();

	ok(/^text\/event-stream/.test(response.headers.get("content-type")),
	   "content-type not text/event-stream");
	for await (const ch of stream) {
		r.ids.add(ch.id);
		is("text_completion", ch.object, "chunk object");
		is("m1", ch.model, "chunk model");
		ok(r.usage === null, "a chunk after the usage chunk");
		if (ch.usage) {
			is(0, ch.choices.length, "choices of the usage chunk");
			r.usage = ch.usage;
			continue;
		}
		is(1, ch.choices.length, "choices of a chunk");
		r.text += ch.choices[0].text;
		r.texts.push(ch.choices[0].text);
		r.finish.push(ch.choices[0].finish_reason);
	}
	is(1, r.ids.size, "one id over the chunks");
	return r;
}

const checks = {
	version() {
		const pkg = new URL("node_modules/openai/package.json",
				    import.meta.url);
		return JSON.parse(fs.readFileSync(pkg, "utf8")).version;
	},

	async models() {
		const page = await client.models.list();
		is(["m1", "mlp"], page.data.map((m) => m.id).sort(), "ids");
		for (const m of page.data) {
			is("model", m.object, "object");
			is("gpulease", m.owned_by, "owned_by");
		}
		const seen = [];
		for await (const m of client.models.list())
			seen.push(m.id);
		is(["m1", "mlp"], seen.sort(), "ids by iteration");
		is("m1", (await client.models.retrieve("m1")).id, "retrieve");
	},

	async whole() {
		const { data: c, response } = await client.completions
			.create(GREEDY).withResponse();
		completion(c, "m1", 1);
		is(WANT, c.choices[0].text, "text");
		is("length", c.choices[0].finish_reason, "finish_reason");
		is(greedyUsage(), counts(c.usage), "usage");
		ok(/^gw-/.test(c._request_id) &&
		   c._request_id === response.headers.get("x-request-id"),
		   `_request_id '${c._request_id}'`);
	},

	async stream() {
		const r = await collect(client.completions.create({
			...GREEDY, stream: true,
			stream_options: { include_usage: true } }));
		is(WANT, r.text, "the chunks' text");
		// how the text falls into chunks depends on timing; the
		// finish_reason comes alone, last
		ok(r.texts.length >= 2, `${r.texts.length} chunks`);
		is("length", r.finish.at(-1), "the last finish_reason");
		is("", r.texts.at(-1), "the last chunk's text");
		ok(r.finish.slice(0, -1).every((f) => f === null) &&
		   r.texts.slice(0, -1).every((t) => t !== ""),
		   `chunks before the last: ${JSON.stringify(r.texts)} ` +
		   `${r.finish}`);
		is(greedyUsage(), counts(r.usage), "usage");
	},

	async same() {
		const s = await collect(client.completions.create({
			...GREEDY, stream: true }));
		const c = await client.completions.create(GREEDY);
		ok(s.usage === null, "usage without include_usage");
		is(c.choices[0].text, s.text, "streamed against whole");
		is(c.choices[0].finish_reason, s.finish.at(-1), "finish_reason");
		is(WANT, s.text, "the daemon's text");
	},

	async prompts() {
		let c = await client.completions.create({
			model: "m1", prompt: [[1, 5, 6], [1, 7]], max_tokens: 3,
			seed: 9 });
		completion(c, "m1", 2);
		is([5, 6, 11], counts(c.usage), "usage of two id prompts");
		c = await client.completions.create({ ...GREEDY,
						      prompt: [PROMPT, PROMPT] });
		completion(c, "m1", 2);
		is([WANT, WANT], c.choices.map((ch) => ch.text), "texts");
	},

	async notfound() {
		const f = { type: "invalid_request_error", code: "model_not_found",
			    param: "model" };
		const e = await raises(OpenAI.NotFoundError, 404, f, () =>
			client.completions.create({ ...GREEDY, model: "nope" }));
		ok(e.message.startsWith("404 "), `message '${e.message}'`);
		await raises(OpenAI.NotFoundError, 404, f, () =>
			client.completions.create({ ...GREEDY, model: "nope",
						    stream: true }));
		await raises(OpenAI.NotFoundError, 404, {}, () =>
			client.models.retrieve("nope"));
	},

	async badfield() {
		const bad = { type: "invalid_request_error" };
		await raises(OpenAI.BadRequestError, 400,
			     { ...bad, param: "temperature" }, () =>
			client.completions.create({ ...GREEDY, temperature: 3 }));
		await raises(OpenAI.BadRequestError, 400, { ...bad, param: "n" },
			     () => client.completions.create({ ...GREEDY, n: 2 }));
		await raises(OpenAI.BadRequestError, 400,
			     { ...bad, param: "model",
			       code: "model_not_supported" }, () =>
			client.completions.create({ ...GREEDY, model: "mlp" }));
	},

	async toolarge() {
		// 413 has no class of its own: the plain APIError
		const e = await raises(OpenAI.APIError, 413,
				       { code: "request_too_large" }, () =>
			client.completions.create({ ...GREEDY, max_tokens: 40 }));
		is("APIError", e.constructor.name, "class");
	},

	async busy() {
		const e = await raises(OpenAI.RateLimitError, 429,
				       { type: "rate_limit_exceeded" }, () =>
			client.completions.create({ ...GREEDY, max_tokens: 2 }));
		is("1", e.headers.get("retry-after"), "retry-after");
	},

	async unauthorized() {
		const f = { code: "invalid_api_key" };
		const other = connect("not-a-key");
		await raises(OpenAI.AuthenticationError, 401, f, () =>
			other.models.list());
		await raises(OpenAI.AuthenticationError, 401, f, () =>
			other.completions.create(GREEDY));
	},

	async authorized() {
		await checks.models();
		await checks.whole();
	},
};

let failed = 0;
for (const name of process.argv.slice(2)) {
	try {
		if (!Object.hasOwn(checks, name))
			throw new Error("no such check");
		const note = await checks[name]();
		console.log(`${name} ok${note ? " " + note : ""}`);
	} catch (e) {
		failed++;
		console.log(`${name} fail: ${String(e.message).split("\n")[0]}`);
		console.error(`${name}: ${e.stack ?? e}`);
	}
}
process.exit(failed ? 1 : 0);
