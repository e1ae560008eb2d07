"""Channel type ids of One API and of New API (which diverge at 2, 4, 5, 26-30, 32, 34+),
mapped to our provider ids (providers/registry.py).

Each entry: type id -> (upstream product name, our provider id, default base URL that
the source used for an empty base_url). Resellers that speak OpenAI's API with their own
host become `custom` with that host. A provider id we do not have (yet) falls back to
`openai`, imported disabled, with a note, so nothing routes to a wrong wire format.
"""

_RESELLERS = {
    2: ("API2D", "https://oa.api2d.net"), 4: ("CloseAI", "https://api.closeai-proxy.xyz"),
    5: ("OpenAI-SB", "https://api.openai-sb.com"), 6: ("OpenAIMax", "https://api.openaimax.com"),
    7: ("OhMyGPT", "https://api.ohmygpt.com"), 9: ("AILS", "https://api.caipacity.com"),
    10: ("AIProxy", "https://api.aiproxy.io"), 12: ("API2GPT", "https://api.api2gpt.com"),
    13: ("AIGC2D", "https://api.aigc2d.com"),
}

# Ids both projects share (1, 3, 6-25, 31, 33 per the research notes).
_COMMON = {
    1: ("OpenAI", "openai", ""),
    3: ("Azure OpenAI", "azure", ""),
    8: ("Custom", "custom", ""),
    11: ("PaLM", "palm", ""),
    14: ("Anthropic", "anthropic", ""),
    15: ("Baidu", "baidu", ""),
    16: ("Zhipu", "zhipu", "https://open.bigmodel.cn"),
    17: ("Ali", "qwen", "https://dashscope.aliyuncs.com"),
    18: ("Xunfei", "xunfei", ""),
    19: ("360", "ai360", ""),
    20: ("OpenRouter", "openrouter", "https://openrouter.ai/api"),
    21: ("AIProxyLibrary", "aiproxy_library", ""),
    22: ("FastGPT", "fastgpt", ""),
    23: ("Tencent", "tencent", ""),
    24: ("Gemini", "gemini", ""),
    25: ("Moonshot", "moonshot", "https://api.moonshot.cn"),
    31: ("LingYiWanWu", "lingyiwanwu", ""),
    33: ("AWS Claude", "bedrock", ""),
}
for _id, (_name, _url) in _RESELLERS.items():
    _COMMON[_id] = (_name, "custom", _url)

ONEAPI_TYPES = {
    **_COMMON,
    26: ("Baichuan", "baichuan", ""), 27: ("Minimax", "minimax", ""),
    28: ("Mistral", "mistral", ""), 29: ("Groq", "groq", ""),
    30: ("Ollama", "ollama", ""), 32: ("StepFun", "stepfun", ""),
    34: ("Coze", "coze", ""), 35: ("Cohere", "cohere", ""),
    36: ("DeepSeek", "deepseek", ""), 37: ("Cloudflare", "cloudflare", ""),
    38: ("DeepL", "deepl", ""), 39: ("TogetherAI", "together", ""),
    40: ("Doubao", "doubao", ""), 41: ("Novita", "novita", ""),
    42: ("VertexAI", "vertex", ""), 43: ("Proxy", "custom", ""),
    44: ("SiliconFlow", "siliconflow", ""), 45: ("xAI", "xai", ""),
    46: ("Replicate", "replicate", ""), 47: ("BaiduV2", "baidu", ""),
    48: ("XunfeiV2", "xunfei", ""), 49: ("AliBailian", "qwen", ""),
    50: ("OpenAICompatible", "custom", ""), 51: ("GeminiOpenAICompatible", "gemini", ""),
}

NEWAPI_TYPES = {
    **_COMMON,
    2: ("Midjourney", "midjourney", ""), 4: ("Ollama", "ollama", ""),
    5: ("MidjourneyPlus", "midjourney", ""),
    26: ("ZhipuV4", "zhipu", "https://open.bigmodel.cn"), 27: ("Perplexity", "perplexity", ""),
    34: ("Cohere", "cohere", ""), 35: ("MiniMax", "minimax", ""),
    36: ("SunoAPI", "suno", ""), 37: ("Dify", "dify", ""), 38: ("Jina", "jina", ""),
    39: ("Cloudflare", "cloudflare", ""), 40: ("SiliconFlow", "siliconflow", ""),
    41: ("VertexAI", "vertex", ""), 42: ("Mistral", "mistral", ""),
    43: ("DeepSeek", "deepseek", ""), 44: ("MokaAI", "mokaai", ""),
    45: ("VolcEngine", "doubao", ""), 46: ("BaiduV2", "baidu", ""),
    47: ("Xinference", "xinference", ""), 48: ("xAI", "xai", ""), 49: ("Coze", "coze", ""),
}


def lookup(flavor: str, type_id: int) -> tuple[str, str, str]:
    """(source name, wanted provider id, source default base URL) for a type id."""
    table = NEWAPI_TYPES if flavor == "newapi" else ONEAPI_TYPES
    return table.get(type_id, (f"type {type_id}", "", ""))
