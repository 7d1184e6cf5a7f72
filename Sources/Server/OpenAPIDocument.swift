/// A hand-written OpenAPI 3 description of the routes, served at GET /openapi.json.
enum OpenAPIDocument {
    static let json = #"""
{"openapi":"3.0.3","info":{"title":"Swiftlet","version":"0.1.0","description":"OpenAI-compatible LLM serving (completions, chat completions) plus vLLM-style tokenize/detokenize, health and Prometheus metrics."},
"components":{
 "securitySchemes":{"bearer":{"type":"http","scheme":"bearer"}},
 "schemas":{
  "Error":{"type":"object","required":["error"],"properties":{"error":{"type":"object","required":["message","type"],"properties":{"message":{"type":"string"},"type":{"type":"string"},"param":{"type":"string","nullable":true},"code":{"type":"string","nullable":true}}}}},
  "Usage":{"type":"object","properties":{"prompt_tokens":{"type":"integer"},"completion_tokens":{"type":"integer"},"total_tokens":{"type":"integer"}}},
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
  "Model":{"type":"object","properties":{"id":{"type":"string"},"object":{"type":"string","enum":["model"]},"created":{"type":"integer"},"owned_by":{"type":"string"},"max_model_len":{"type":"integer"}}}
 },
 "responses":{
  "Error":{"description":"OpenAI-shaped error (400 invalid, 401 key, 404 model/route, 405 method, 413 body too large, 429 busy with Retry-After, 500, 503)","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Error"}}}}
 }},
"security":[{"bearer":[]}],
"paths":{
 "/v1/completions":{"post":{"summary":"Text completion; stream=true answers with Server-Sent Events ending in data: [DONE]","requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/CompletionRequest"}}}},
  "responses":{"200":{"description":"completion","content":{"application/json":{"schema":{"$ref":"#/components/schemas/CompletionResponse"}},"text/event-stream":{"schema":{"type":"string"}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/v1/chat/completions":{"post":{"summary":"Chat completion; stream=true answers with Server-Sent Events (the first chunk carries the role)","requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/ChatCompletionRequest"}}}},
  "responses":{"200":{"description":"chat completion","content":{"application/json":{"schema":{"$ref":"#/components/schemas/ChatCompletionResponse"}},"text/event-stream":{"schema":{"type":"string"}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/v1/models":{"get":{"summary":"The served model","responses":{"200":{"description":"list","content":{"application/json":{"schema":{"type":"object","properties":{"object":{"type":"string"},"data":{"type":"array","items":{"$ref":"#/components/schemas/Model"}}}}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/v1/models/{id}":{"get":{"summary":"One model","parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{"200":{"description":"model","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Model"}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/tokenize":{"post":{"summary":"Text or messages to token ids (vLLM)","requestBody":{"required":true,"content":{"application/json":{"schema":{"type":"object","properties":{"model":{"type":"string"},"prompt":{"type":"string"},"messages":{"type":"array","items":{"$ref":"#/components/schemas/ChatMessage"}},"add_special_tokens":{"type":"boolean"},"add_generation_prompt":{"type":"boolean"}}}}}},
  "responses":{"200":{"description":"tokens","content":{"application/json":{"schema":{"type":"object","properties":{"count":{"type":"integer"},"max_model_len":{"type":"integer"},"tokens":{"type":"array","items":{"type":"integer"}}}}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/detokenize":{"post":{"summary":"Token ids to text (vLLM)","requestBody":{"required":true,"content":{"application/json":{"schema":{"type":"object","required":["tokens"],"properties":{"model":{"type":"string"},"tokens":{"type":"array","items":{"type":"integer"}}}}}}},
  "responses":{"200":{"description":"text","content":{"application/json":{"schema":{"type":"object","properties":{"prompt":{"type":"string"}}}}}},"default":{"$ref":"#/components/responses/Error"}}}},
 "/health":{"get":{"summary":"200 once the model is loaded, 503 before","security":[],"responses":{"200":{"description":"ready"},"503":{"$ref":"#/components/responses/Error"}}}},
 "/metrics":{"get":{"summary":"Prometheus metrics (swiftlet: prefix)","security":[],"responses":{"200":{"description":"text exposition format","content":{"text/plain":{"schema":{"type":"string"}}}}}}},
 "/openapi.json":{"get":{"summary":"This document","responses":{"200":{"description":"OpenAPI 3 document"}}}}
}}
"""#
}
