// A stand-in for OpenAI's HTTP API, for the service (never the browser) to talk to in
// the browser tests: node:http on 127.0.0.1, answering in OpenAI's shapes what
// src/ai/openai.rs sends.
//
// - POST /v1/images/generations: a real PNG of the size asked for, as `b64_json`, after
//   `generationDelayMs` (so the gallery shows the waiting state). A prompt containing
//   "forbidden" is refused as OpenAI refuses a prompt its safety system rejects (400,
//   `content_policy_violation`).
// - POST /v1/chat/completions with `tools`: the edit planner. It calls `apply_edits` with
//   instructions read from the prompt's words (brighter, darker, contrast, grey, mirror,
//   rotate, blur, square), the square crop centred in the size the system message gives.
//   A prompt with none of those words gets an empty plan, which the service refuses.
// - POST /v1/chat/completions without `tools`: the vision description, as the structured
//   JSON `response_format` asks for.
//
// Every request must carry `Authorization: Bearer <apiKey>`; each is recorded in `calls`.
import { createServer } from 'node:http';
import { png } from './png.mjs';

export const FAKE_KEY = 'sk-fake-browser-tests';
export const DESCRIPTION =
  'A glowing orange sun setting over calm violet water, with soft bands of colour in the sky.';
export const TAGS = ['sunset', 'sea', 'orange', 'violet'];

export async function startFakeOpenAi({ apiKey = FAKE_KEY, generationDelayMs = 1500 } = {}) {
  const calls = [];
  const server = createServer(async (request, response) => {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    let body = null;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
    } catch {
      return send(response, 400, error('We could not parse the JSON body of your request.'));
    }
    calls.push({ method: request.method, path: request.url, body });
    if (request.headers.authorization !== `Bearer ${apiKey}`) {
      return send(
        response,
        401,
        error('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'),
      );
    }
    if (request.method === 'POST' && request.url === '/v1/images/generations') {
      return generate(body, response, generationDelayMs);
    }
    if (request.method === 'POST' && request.url === '/v1/chat/completions') {
      return send(response, 200, body?.tools ? planEdits(body) : describe(body));
    }
    send(response, 404, error(`Invalid URL (${request.method} ${request.url})`));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    apiKey,
    calls,
    stop: () => new Promise((ok) => server.close(ok)),
  };
}

function send(response, status, body) {
  const json = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    'x-request-id': `req_${Math.random().toString(16).slice(2)}`,
  });
  response.end(json);
}

function error(message, type = 'invalid_request_error', code = null) {
  return { error: { message, type, param: null, code } };
}

async function generate(body, response, delayMs) {
  const prompt = String(body?.prompt ?? '');
  const match = /^(\d+)x(\d+)$/.exec(String(body?.size ?? ''));
  if (!prompt || body?.n !== 1 || !match) {
    return send(response, 400, error('Invalid request: prompt, n and size are required.'));
  }
  await new Promise((ok) => setTimeout(ok, delayMs));
  if (/forbidden/i.test(prompt)) {
    return send(
      response,
      400,
      error(
        'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.',
        'image_generation_user_error',
        'content_policy_violation',
      ),
    );
  }
  const [width, height] = [Number(match[1]), Number(match[2])];
  send(response, 200, {
    created: Math.floor(Date.now() / 1000),
    data: [{ b64_json: sunset(width, height).toString('base64') }],
    usage: {
      total_tokens: 4200,
      input_tokens: 40,
      output_tokens: 4160,
      input_tokens_details: { text_tokens: 40, image_tokens: 0 },
    },
  });
}

/** A sunset: a sky from violet to orange, a sun, and darker water below the horizon. */
export function sunset(width, height) {
  const horizon = height * 0.62;
  const sun = { x: width * 0.5, y: horizon - height * 0.08, r: Math.min(width, height) * 0.12 };
  return png(width, height, (x, y) => {
    if (Math.hypot(x - sun.x, y - sun.y) < sun.r && y < horizon) return [255, 214, 120];
    if (y < horizon) {
      const t = y / horizon;
      return [Math.round(90 + 160 * t), Math.round(50 + 90 * t), Math.round(140 - 80 * t)];
    }
    const t = (y - horizon) / (height - horizon);
    const ripple = (Math.floor(y / 6) % 2) * 12;
    return [Math.round(70 - 40 * t + ripple), Math.round(40 - 20 * t), Math.round(110 - 40 * t)];
  });
}

function completion(model, message, finishReason, usage) {
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    system_fingerprint: 'fp_fake',
  };
}

function describe(body) {
  const content = body?.messages?.[0]?.content;
  const hasImage =
    Array.isArray(content) &&
    content.some((part) => part.type === 'image_url' && /^data:image\//.test(part.image_url?.url));
  const answer = hasImage
    ? { description: DESCRIPTION, tags: TAGS }
    : { description: 'No image was sent.', tags: [] };
  return completion(
    body?.model ?? 'gpt-4o-mini',
    { role: 'assistant', content: JSON.stringify(answer), refusal: null },
    'stop',
    { prompt_tokens: 850, completion_tokens: 42 },
  );
}

function planEdits(body) {
  const system = body.messages?.find((m) => m.role === 'system')?.content ?? '';
  const prompt = String(body.messages?.find((m) => m.role === 'user')?.content ?? '');
  const size = /(\d+)x(\d+) pixels/.exec(system);
  const [width, height] = size ? [Number(size[1]), Number(size[2])] : [0, 0];
  const words = prompt.toLowerCase();
  const instructions = [];
  if (/square/.test(words) && width && height) {
    const side = Math.min(width, height);
    instructions.push({
      crop: {
        x: Math.floor((width - side) / 2),
        y: Math.floor((height - side) / 2),
        width: side,
        height: side,
      },
    });
  }
  if (/rotate|turn/.test(words)) instructions.push({ rotate: 90 });
  if (/mirror/.test(words)) instructions.push({ flip: 'HORIZONTAL' });
  if (/brighter/.test(words)) instructions.push({ brightness: 1.3 });
  if (/darker/.test(words)) instructions.push({ brightness: 0.7 });
  if (/contrast/.test(words)) instructions.push({ contrast: 1.2 });
  if (/blur/.test(words)) instructions.push({ blur: 2 });
  if (/gr[ae]y|black and white/.test(words)) instructions.push({ grayscale: true });
  const tool = body.tools[0].function.name;
  return completion(
    body.model ?? 'gpt-4o-mini',
    {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        {
          id: `call_${Math.random().toString(36).slice(2)}`,
          type: 'function',
          function: { name: tool, arguments: JSON.stringify({ instructions }) },
        },
      ],
    },
    'tool_calls',
    { prompt_tokens: 310, completion_tokens: 24 },
  );
}
