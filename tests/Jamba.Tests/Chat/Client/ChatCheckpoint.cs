namespace Jamba.Tests.Chat.Client;

/// <summary>A tiny random causal LM saved as a release-style folder: byte tokenizer and a small chat template with tools.</summary>
internal static class ChatCheckpoint
{
    /// <summary>
    /// Roles as headers, tools listed as JSON, an assistant's tool calls in Jamba's &lt;tool_calls&gt; block and the
    /// generation prompt, close to the Jamba template's layout without its length.
    /// </summary>
    public const string Template =
        "{% if tools %}<|tools|>{{ tools | tojson }}{{ '\\n' }}{% endif %}" +
        "{% for m in messages %}" +
        "{% if m.role not in ['system', 'user', 'assistant', 'tool'] %}{{ raise_exception('Unknown role: ' ~ m.role) }}{% endif %}" +
        "<|{{ m.role }}|>{{ m.content }}" +
        "{% if m.tool_calls %}<tool_calls>[{% for c in m.tool_calls %}{\"name\": \"{{ c.function.name }}\", \"arguments\": {{ c.function.arguments | tojson }}}{% if not loop.last %},{% endif %}{% endfor %}]</tool_calls>{% endif %}{{ '\\n' }}" +
        "{% endfor %}" +
        "{% if add_generation_prompt %}<|assistant|>{% endif %}";

    /// <summary>Saves the model into a new temporary folder and returns it.</summary>
    public static string Create(long seed = 11)
    {
        string dir = Path.Combine(Path.GetTempPath(), "jamba-chat-tests", Guid.NewGuid().ToString("N"));
        using (var model = JambaModel.Create(TestConfigs.Tiny(c => { c.VocabSize = 260; c.EosTokenIds = new[] { 2 }; }), seed: seed))
            model.Save(dir);
        var config = new System.Text.Json.Nodes.JsonObject { ["chat_template"] = Template, ["bos_token"] = "<|startoftext|>", ["eos_token"] = "<|endoftext|>" };
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
        return dir;
    }
}
