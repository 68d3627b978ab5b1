using Jamba.Chat;
using Microsoft.Extensions.AI;

namespace Jamba.Tests.Chat.Client;

[TestClass]
public sealed class ToolCallParserTests
{
    private static int n;
    private static string Id() => $"c{++n}";

    [TestMethod]
    public void ParsesCallsAndTheTextBefore()
    {
        string text = "Let me look.\n<tool_calls>[\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}},{\"name\": \"now\", \"arguments\": {}}\n]</tool_calls>";
        Assert.IsTrue(ToolCallParser.TryParse(text, Id, out string content, out var calls));
        Assert.AreEqual("Let me look.", content);
        Assert.AreEqual(2, calls.Count);
        Assert.AreEqual("weather", calls[0].Name);
        Assert.AreEqual("Paris", calls[0].Arguments!["city"]!.ToString());
        Assert.AreEqual("2", calls[0].Arguments!["days"]!.ToString());
        Assert.AreEqual("now", calls[1].Name);
        Assert.AreNotEqual(calls[0].CallId, calls[1].CallId);
    }

    [TestMethod]
    public void AcceptsArgumentsAsAJsonStringAndTheFunctionWrapper()
    {
        string text = "<tool_calls>[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}}]</tool_calls>";
        Assert.IsTrue(ToolCallParser.TryParse(text, Id, out string content, out var calls));
        Assert.AreEqual("", content);
        Assert.AreEqual("f", calls.Single().Name);
        Assert.AreEqual("1", calls.Single().Arguments!["x"]!.ToString());
    }

    [TestMethod]
    [DataRow("no calls here")]
    [DataRow("<tool_calls>[{\"name\": \"f\", \"arguments\": {}}]")]                 // never closed (cut by max tokens)
    [DataRow("<tool_calls>[{\"name\": \"f\", \"arguments\": {]</tool_calls>")]       // not JSON
    [DataRow("<tool_calls>{\"name\": \"f\"}</tool_calls>")]                          // not a list
    [DataRow("<tool_calls>[{\"arguments\": {}}]</tool_calls>")]                      // no name
    [DataRow("<tool_calls>[{\"name\": \"f\", \"arguments\": [1]}]</tool_calls>")]    // arguments not an object
    [DataRow("<tool_calls>[]</tool_calls>")]                                         // no call
    public void AnythingElseStaysPlainText(string text)
    {
        Assert.IsFalse(ToolCallParser.TryParse(text, Id, out string content, out var calls));
        Assert.AreEqual(text, content);
        Assert.AreEqual(0, calls.Count);
    }
}
