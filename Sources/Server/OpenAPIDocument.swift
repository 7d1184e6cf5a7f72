import Foundation

/// A hand-written OpenAPI 3 description of the routes, served at GET /openapi.json. Bearer security is declared
/// only when the server requires a key; streamed responses document the JSON each SSE `data:` line carries
/// (`x-sse-data`; OpenAPI 3.0 has no keyword for event streams) — Tests/conformance checks real streams against it.
enum OpenAPIDocument {
    static func json(requiresKey: Bool) -> String {
        requiresKey ? keyed : open
    }

    static let keyed = body.replacingOccurrences(of: #""components":{"#, with: #""components":{"securitySchemes":{"bearer":{"type":"http","scheme":"bearer"}},"#)
        .replacingOccurrences(of: #""paths":{"#, with: #""security":[{"bearer":[]}],"paths":{"#)
    static let open = body

    static let body = #"""
{"openapi":"3.0.3","info":{"title":"Swiftlet","version":"0.1.0","description":"OpenAI-compatible LLM serving (completions, chat completions) plus vLLM-style tokenize/detokenize, health and Prometheus metrics."},
"components":{
 "schemas":{
  "Error":{"type":"object","required":["error"],"properties":{"error":{"type":"object","required":["message","type"],"properties":{"message":{"type":"string"},"type":{"type":"string"},"param":{"type":"string","nullable":true},"code":{"type":"string","nullable":true}}}}},
  "Usage":{"type":"object","required":["prompt_tokens","completion_tokens","total_tokens"],"properties":{"prompt_tokens":{"type":"integer"},"completion_tokens":{"type":"integer"},"total_tokens":{"type":"integer"}}},
  "Sampling":{"type":"object","properties":{
   "max_tokens":{"type":"integer","minimum":1},"temperature":{"type":"number","minimum":0,"maximum":2},"top_p":{"type":"number","exclusiveMinimum":true,"minimum":0,"maximum":1},
   "n":{"type":"integer","minimum":1,"maximum":16},"stream":{"type":"boolean"},"stream_options":{"type":"object","properties":{"include_usage":{"type":"boolean"}}},
   "stop":{"oneOf":[{"type":"string"},{"type":"array","items":{"type":"string"}}]},"presence_penalty":{"type":"number","minimum":-2,"maximum":2},
   "frequency_penalty":{"type":"number","minimum":-2,"maximum":2},"logit_bias":{"type":"object","additionalProperties":{"type":"number","minimum":-100,"maximum":100}},
   "seed":{"type":"integer"},"user":{"type":"string"},"top_k":{"type":"integer","minimum":-1},"min_p":{"type":"number","minimum":0,"maximum":1},
   "repetition_penalty":{"type":"number","minimum":0,"maximum":2},"min_tokens":{"type":"integer","minimum":0},"ignore_eos":{"type":"boolean"},
   "priority":{"type":"integer"},"stop_token_ids":{"type":"array","items":{"type":"integer"}},"skip_special_tokens":{"type":"boolean"}}},
  "CompletionRequest":{"allOf":[{"$ref":"#/components/schemas/Sampling"},{"type":"object","required":["prompt"],"properties":{
   "model":{"type":"string"},"prompt":{"oneOf":[{"type":"string"},{"type":"array","items":{"type":"string"}},{"type":"array","items":{"type":"integer"}},{"type":"array","items":{"type":"array","items":{"type":"integer"}}}]},
   "logprobs":{"type":"integer","minimum":0,"maximum":20},"echo":{"type":"boolean"},"best_of":{"type":"integer","description":"must equal n"},"suffix":{"type":"string","description":"not supported"}}}]},
  "ChatMessage":{"type":"object","required":["role"],"properties":{"role":{"type":"string","enum":["system","developer","user","assistant"]},
   "content":{"oneOf":[{"type":"string"},{"type":"array","items":{"type":"object","properties":{"type":{"type":"string","enum":["text"]},"text":{"type":"string"}}}}]}}},
  "ChatCompletionRequest":{"allOf":[{"$ref":"#/components/schemas/Sampling"},{"type":"object","required":["messages"],"properties":{
   "model":{"type":"string"},"messages":{"type":"array","minItems":1,"items":{"$ref":"#/components/schemas/ChatMessage"}},
   "max_completion_tokens":{"type":"integer","minimum":1},"logprobs":{"type":"boolean"},"top_logprobs":{"type":"integer","minimum":0,"maximum":20},
   "add_generation_prompt":{"type":"boolean"}}}]},
  "CompletionResponse":{"type":"object","properties":{"id":{"type":"string"},"object":{"type":"string","enum":["text_completion"]},"created":{"type":"integer"},"model":{"type":"string"},
   "system_fingerprint":{"type":"string","nullable":true},"choices":{"type":"array","items":{"type":"object","properties":{"index":{"type":"integer"},"text":{"type":"string"},
   "logprobs":{"type":"object","nullable":true},"finish_reason":{"type":"string","nullable":true},"stop_reason":{"type":"string","nullable":true}}}},"usage":{"$ref":"#/components/schemas/Usage"}}},
  "ChatCompletionResponse":{"type":"object","properties":{"id":{"type":"string"},"object":{"type":"string","enum":["chat.completion"]},"created":{"type":"integer"},"model":{"type":"string"},
   "system_fingerprint":{"type":"string","nullable":true},"choices":{"type":"array","items":{"type":"object","properties":{"index":{"type":"integer"},"message":{"$ref":"#/components/schemas/ChatMessage"},
   "logprobs":{"type":"object","nullable":true},"finish_reason":{"type":"string","nullable":true}}}},"usage":{"$ref":"#/components/schemas/Usage"}}},
  "CompletionLogprobs":{"type":"object","required":["tokens","token_logprobs","top_logprobs","text_offset"],"properties":{"tokens":{"type":"array","items":{"type":"string"}},
   "token_logprobs":{"type":"array","items":{"type":"number","nullable":true}},"top_logprobs":{"type":"array","items":{"type":"object","nullable":true,"additionalProperties":{"type":"number"}}},
   "text_offset":{"type":"array","items":{"type":"integer"}}}},
  "ChatTokenLogprob":{"type":"object","required":["token","logprob","bytes","top_logprobs"],"properties":{"token":{"type":"string"},"logprob":{"type":"number"},"bytes":{"type":"array","nullable":true,"items":{"type":"integer"}},
   "top_logprobs":{"type":"array","items":{"type":"object","required":["token","logprob","bytes"],"properties":{"token":{"type":"string"},"logprob":{"type":"number"},"bytes":{"type":"array","nullable":true,"items":{"type":"integer"}}}}}}},
  "CompletionChunk":{"type":"object","additionalProperties":false,"required":["id","object","created","model","system_fingerprint","choices"],"properties":{"id":{"type":"string"},"object":{"type":"string","enum":["text_completion"]},
   "created":{"type":"integer"},"model":{"type":"string"},"system_fingerprint":{"type":"string","nullable":true},"usage":{"type":"object","nullable":true,"enum":[null],"description":"null on every token chunk when stream_options.include_usage is set; absent otherwise"},
   "choices":{"type":"array","minItems":1,"maxItems":1,"items":{"type":"object","additionalProperties":false,"required":["index","text","logprobs","finish_reason"],"properties":{"index":{"type":"integer"},"text":{"type":"string"},
   "logprobs":{"allOf":[{"$ref":"#/components/schemas/CompletionLogprobs"}],"nullable":true},"finish_reason":{"type":"string","nullable":true,"enum":["stop","length","abort",null]}}}}}},
  "ChatCompletionChunk":{"type":"object","additionalProperties":false,"required":["id","object","created","model","system_fingerprint","choices"],"properties":{"id":{"type":"string"},"object":{"type":"string","enum":["chat.completion.chunk"]},
   "created":{"type":"integer"},"model":{"type":"string"},"system_fingerprint":{"type":"string","nullable":true},"usage":{"type":"object","nullable":true,"enum":[null],"description":"null on every token chunk when stream_options.include_usage is set; absent otherwise"},
   "choices":{"type":"array","minItems":1,"maxItems":1,"items":{"type":"object","additionalProperties":false,"required":["index","delta","logprobs","finish_reason"],"properties":{"index":{"type":"integer"},
   "delta":{"type":"object","additionalProperties":false,"properties":{"role":{"type":"string","enum":["assistant"]},"content":{"type":"string"}}},
   "logprobs":{"type":"object","nullable":true,"required":["content"],"properties":{"content":{"type":"array","items":{"$ref":"#/components/schemas/ChatTokenLogprob"}}}},"finish_reason":{"type":"string","nullable":true,"enum":["stop","length","abort",null]}}}}}},
  "UsageChunk":{"type":"object","additionalProperties":false,"required":["id","object","created","model","system_fingerprint","choices","usage"],"properties":{"id":{"type":"string"},"object":{"type":"string","enum":["text_completion","chat.completion.chunk"]},
   "created":{"type":"integer"},"model":{"type":"string"},"system_fingerprint":{"type":"string","nullable":true},"choices":{"type":"array","maxItems":0},"usage":{"$ref":"#/components/schemas/Usage"}}},
  "Model":{"type":"object","properties":{"id":{"type":"string"},"object":{"type":"string","enum":["model"]},"created":{"type":"integer"},"owned_by":{"type":"string"},"max_model_len":{"type":"integer"}}}
 },
 "responses":{
  "Error":{"description":"OpenAI-shaped error (400 invalid, 401 key, 404 model/route, 405 method, 413 body too large, 429 busy with Retry-After, 500, 503)","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}}
 }},
"paths":{
 "/v1/completions":{"post":{"summary":"Text completion; stream=true answers with Server-Sent Events ending in data: [DONE]","requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/CompletionRequest"}}}},
  "responses":{"200":{"description":"completion","content":{"application/json":{"schema":{"$ref":"#/components/schemas/CompletionResponse"}},"text/event-stream":{"schema":{"type":"string","description":"Server-Sent Events: `data: <json>` and a blank line per event, ending with `data: [DONE]`. Each <json> is a CompletionChunk; with stream_options.include_usage the last one before [DONE] is a UsageChunk; an engine failure sends an Error.","x-sse-data":{"oneOf":[{"$ref":"#/components/schemas/CompletionChunk"},{"$ref":"#/components/schemas/UsageChunk"},{"$ref":"#/components/schemas/Error"}]}}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/v1/chat/completions":{"post":{"summary":"Chat completion; stream=true answers with Server-Sent Events (the first chunk carries the role)","requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/ChatCompletionRequest"}}}},
  "responses":{"200":{"description":"chat completion","content":{"application/json":{"schema":{"$ref":"#/components/schemas/ChatCompletionResponse"}},"text/event-stream":{"schema":{"type":"string","description":"Server-Sent Events: `data: <json>` and a blank line per event, ending with `data: [DONE]`. Each <json> is a ChatCompletionChunk (each choice's first one carries delta.role); with stream_options.include_usage the last one before [DONE] is a UsageChunk; an engine failure sends an Error.","x-sse-data":{"oneOf":[{"$ref":"#/components/schemas/ChatCompletionChunk"},{"$ref":"#/components/schemas/UsageChunk"},{"$ref":"#/components/schemas/Error"}]}}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/v1/models":{"get":{"summary":"The served model","responses":{"200":{"description":"list","content":{"application/json":{"schema":{"type":"object","properties":{"object":{"type":"string"},"data":{"type":"array","items":{"$ref":"#/components/schemas/Model"}}}}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/v1/models/{id}":{"get":{"summary":"One model","parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{"200":{"description":"model","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Model"}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/tokenize":{"post":{"summary":"Text or messages to token ids (vLLM)","requestBody":{"required":true,"content":{"application/json":{"schema":{"type":"object","properties":{"model":{"type":"string"},"prompt":{"type":"string"},"messages":{"type":"array","items":{"$ref":"#/components/schemas/ChatMessage"}},"add_special_tokens":{"type":"boolean"},"add_generation_prompt":{"type":"boolean"}}}}}},
  "responses":{"200":{"description":"tokens","content":{"application/json":{"schema":{"type":"object","properties":{"count":{"type":"integer"},"max_model_len":{"type":"integer"},"tokens":{"type":"array","items":{"type":"integer"}}}}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/detokenize":{"post":{"summary":"Token ids to text (vLLM)","requestBody":{"required":true,"content":{"application/json":{"schema":{"type":"object","required":["tokens"],"properties":{"model":{"type":"string"},"tokens":{"type":"array","items":{"type":"integer"}}}}}}},
  "responses":{"200":{"description":"text","content":{"application/json":{"schema":{"type":"object","properties":{"prompt":{"type":"string"}}}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/health":{"get":{"summary":"200 once the model is loaded, 503 before","security":[],"responses":{"200":{"description":"ready","content":{"application/json":{"schema":{"type":"object"}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/metrics":{"get":{"summary":"Prometheus metrics (swiftlet: prefix)","security":[],"responses":{"200":{"description":"text exposition format","content":{"text/plain":{"schema":{"type":"string"}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/openapi.json":{"get":{"summary":"This document","security":[],"responses":{"200":{"description":"OpenAPI 3 document","content":{"application/json":{"schema":{"type":"object"}}}},"default":{"$ref":"#/components/responses/Error"}}}}
}}
"""#
}
