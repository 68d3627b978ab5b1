using Jamba.Chat;
using Jamba.Tests.Checkpoints;
using Jamba.Tokenization;
using Jamba.Training;

namespace Jamba.Tests.Training;

[TestClass]
public sealed class DataTests
{
    [TestMethod]
    public void TextDocumentsAreSeparatedByBlankLines()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a.txt"], "first line\nsecond line\n\n\nnext doc\n  \nlast");
        var docs = TextCorpus.Read(dir["a.txt"]);
        CollectionAssert.AreEqual(new[] { "first line\nsecond line", "next doc", "last" }, docs);
    }

    [TestMethod]
    public void JsonlAndTsvReadTheTextColumn()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["d.jsonl"], "{\"text\": \"hello\", \"id\": 1}\n\n{\"text\": \"world\"}\n");
        CollectionAssert.AreEqual(new[] { "hello", "world" }, TextCorpus.Read(dir["d.jsonl"]));
        File.WriteAllText(dir["d.tsv"], "id\tbody\n1\tone\\ntwo\n2\tthree\n");
        CollectionAssert.AreEqual(new[] { "one\ntwo", "three" }, TextCorpus.Read(dir["d.tsv"], CorpusFormat.Auto, "body"));
    }

    [TestMethod]
    public void ChatDataIsRenderedWithTheTemplate()
    {
        using var dir = new TempDir();
        var template = new ChatTemplate("{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}");
        File.WriteAllText(dir["c.jsonl"],
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}]}\n\n" +
            "{\"turns\": [{\"role\": \"user\", \"content\": \"x\"}]}\n");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => TextCorpus.Read(dir["c.jsonl"], CorpusFormat.Chat, "messages", template));
        StringAssert.Contains(e.Message, "c.jsonl:3: expected a JSON object with a \"messages\" list");
        File.WriteAllText(dir["c.jsonl"],
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}]}\n");
        // A finished exchange: no generation prompt after the last answer.
        CollectionAssert.AreEqual(new[] { "[user]Hi[assistant]Hello!" }, TextCorpus.Read(dir["c.jsonl"], CorpusFormat.Chat, "messages", template));
        Assert.AreEqual(CorpusFormat.Chat, TextCorpus.ParseFormat("chat"));
        Assert.ThrowsExactly<ArgumentException>(() => TextCorpus.Read(dir["c.jsonl"], CorpusFormat.Chat));

        // In a folder, the conversations can be mixed with plain text, which is read as text.
        File.WriteAllText(dir["d.txt"], "a story\n\nanother story\n");
        CollectionAssert.AreEqual(new[] { "[user]Hi[assistant]Hello!", "a story", "another story" },
            TextCorpus.Read(dir.Path, CorpusFormat.Chat, "messages", template));

        var raising = new ChatTemplate("{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}x");
        File.WriteAllText(dir["r.jsonl"], "{\"messages\": [{\"role\": \"assistant\", \"content\": \"a\"}]}\n");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => TextCorpus.Read(dir["r.jsonl"], CorpusFormat.Chat, "messages", raising)).Message,
            "r.jsonl:1: the chat template cannot render this conversation: user first");
    }

    [TestMethod]
    public void BadDataGivesOneLineErrorsNamingTheProblem()
    {
        using var dir = new TempDir();
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => TextCorpus.Read(dir["nope.txt"]));
        StringAssert.Contains(missing.Message, "not found");
        File.WriteAllText(dir["empty.txt"], "\n\n");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => TextCorpus.Read(dir["empty.txt"])).Message, "empty");
        File.WriteAllText(dir["t.tsv"], "id\tlabel\n1\tx\n");
        var tsv = Assert.ThrowsExactly<InvalidDataException>(() => TextCorpus.Read(dir["t.tsv"]));
        StringAssert.Contains(tsv.Message, "no 'text' column (columns: id, label)");
        File.WriteAllText(dir["j.jsonl"], "{\"body\": \"x\"}\n");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => TextCorpus.Read(dir["j.jsonl"])).Message, "j.jsonl:1: no \"text\" field");
        foreach (var m in new[] { missing.Message, tsv.Message }) Assert.IsFalse(m.Contains('\n'));
    }

    [TestMethod]
    public void PackingPutsEosBetweenDocumentsAndDropsTheTail()
    {
        var tok = ByteTokenizer.Instance;
        var data = PackedDataset.Pack(new[] { "ab", "cde" }, tok, 3);
        // a b EOS c d e EOS → [a b EOS] [c d e], tail EOS dropped
        Assert.AreEqual(2, data.Count);
        CollectionAssert.AreEqual(new[] { 'a' + 4, 'b' + 4, 2 }, data[0].ToArray());
        CollectionAssert.AreEqual(new[] { 'c' + 4, 'd' + 4, 'e' + 4 }, data[1].ToArray());
        Assert.AreEqual(7, data.StreamTokens);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => PackedDataset.Pack(new[] { "ab" }, tok, 10));
        StringAssert.Contains(e.Message, "sequence length 10 is larger than the data: 3 tokens in 1 documents");
    }

    [TestMethod]
    public void SplitAndBatchOrderAreSeededAndDisjoint()
    {
        var data = PackedDataset.Pack(Enumerable.Range(0, 50).Select(i => $"document number {i}").ToArray(), ByteTokenizer.Instance, 8);
        var (train, val) = data.Split(0.1, 3);
        var (train2, val2) = data.Split(0.1, 3);
        CollectionAssert.AreEqual(train, train2);
        CollectionAssert.AreEqual(val, val2);
        Assert.AreEqual(0, train.Intersect(val).Count());
        Assert.AreEqual(data.Count, train.Length + val.Length);

        var a = new BatchSampler(train, 4, 7);
        var batches = Enumerable.Range(0, 40).Select(_ => a.Next()).ToList();
        var b = new BatchSampler(train, 4, 7);
        for (int i = 0; i < 17; i++) b.Next();
        var c = new BatchSampler(train, 4, 7);
        c.Restore(b.Epoch, b.Cursor);
        for (int i = 17; i < 40; i++) CollectionAssert.AreEqual(batches[i], c.Next(), $"batch {i} after restore");
        Assert.IsTrue(batches.Take(train.Length / 4).SelectMany(x => x).Distinct().Count() == train.Length / 4 * 4, "an epoch has no repeats");
    }
}
