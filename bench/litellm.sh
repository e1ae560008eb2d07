# Sourced by bench/run.sh when LITELLM=1: LiteLLM's proxy (pinned, in its own venv
# .venv-litellm, installed from PyPI on first use) in front of the same fake upstream,
# with as many workers as OneProxy, no database (so no spend tracking: it does less work
# per request than OneProxy, which bills every request in Redis and PostgreSQL; the
# DATABASE_URL and REDIS_URL set for OneProxy are hidden from it).
LITELLM_VERSION=${LITELLM_VERSION:-1.106.2}
LITELLM_PORT=${LITELLM_PORT:-4000}
if [[ ! -x .venv-litellm/bin/litellm ]]; then
  python3 -m venv .venv-litellm
  .venv-litellm/bin/pip install -q "litellm[proxy]==$LITELLM_VERSION"
fi
LITELLM_CONFIG=$(mktemp --suffix=.yaml)
cat > "$LITELLM_CONFIG" <<YAML
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:$FAKE_PORT/v1
      api_key: sk-bench-upstream-key
YAML
LITELLM_KEY=sk-bench-litellm-$(openssl rand -hex 16)
env -u DATABASE_URL -u REDIS_URL LITELLM_MASTER_KEY="$LITELLM_KEY" LITELLM_LOCAL_MODEL_COST_MAP=True \
  .venv-litellm/bin/litellm --config "$LITELLM_CONFIG" --host 127.0.0.1 \
  --port "$LITELLM_PORT" --num_workers "$WORKERS" >/tmp/litellm-bench.log 2>&1 & pids+=($!)
for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:$LITELLM_PORT/health/liveliness" >/dev/null 2>&1 && break
  sleep 0.2
done
LITELLM_URL="http://127.0.0.1:$LITELLM_PORT/v1/chat/completions"
