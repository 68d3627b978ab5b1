using Google.Protobuf;
using Jamba.Tokenization;
using static Jamba.Tests.Tokenization.TokenizerFixtures;

namespace Jamba.Tests.Tokenization;

[TestClass]
public sealed class TokenizerLoadingTests
{
    private string _dir = "";

    [TestInitialize]
    public void CreateFolder() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "jamba-tok-" + Guid.NewGuid().ToString("N")));

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_dir, recursive: true);

    [TestMethod]
    public void ByteNameGivesTheByteTokenizer() => Assert.IsInstanceOfType<ByteTokenizer>(JambaTokenizer.Load("byte"));

    [TestMethod]
    public void LoadsAModelFileOrACheckpointFolder()
    {
        foreach (string path in new[] { ModelPath, ModelFolder })
        {
            var tok = JambaTokenizer.Load(path);
            Assert.IsInstanceOfType<SentencePieceTokenizer>(tok);
            CollectionAssert.AreEqual(new[] { 1410, 357, 1791 }, tok.Encode("hello").ToArray());
        }
    }

    [TestMethod]
    public void LoadsATokenizerJsonAndPrefersItInAFolder()
    {
        string json = Path.Combine(Folder, "tokenizers", "mistral", "tokenizer.json");
        Assert.IsInstanceOfType<HuggingFaceTokenizer>(JambaTokenizer.Load(json));

        // A folder with both files loads tokenizer.json, as Hugging Face's fast tokenizers do; with only one, that one.
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Path.Combine(Folder, "tokenizers", "mistral", f), Path.Combine(_dir, f));
        File.Copy(ModelPath, Path.Combine(_dir, "tokenizer.model"));
        var both = JambaTokenizer.Load(_dir);
        Assert.IsInstanceOfType<HuggingFaceTokenizer>(both);
        CollectionAssert.AreEqual(new[] { 1, 22557, 2 }, both.Encode("Hello", addBos: true, addEos: true).ToArray());
        File.Delete(Path.Combine(_dir, "tokenizer.json"));
        Assert.IsInstanceOfType<SentencePieceTokenizer>(JambaTokenizer.Load(_dir));
        File.Delete(Path.Combine(_dir, "tokenizer.model"));
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => JambaTokenizer.Load(_dir));
        StringAssert.Contains(e.Message, "tokenizer.json");
        StringAssert.Contains(e.Message, "tokenizer.model");
    }

    [TestMethod]
    public void UnsupportedOrBrokenTokenizerJsonIsNamed()
    {
        string bad = Path.Combine(_dir, "tokenizer.json");
        File.WriteAllText(bad, "{ not json");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => JambaTokenizer.Load(bad)).Message, bad);
        File.WriteAllText(bad, """{"model": {"type": "WordPiece", "vocab": {}}}""");
        StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => JambaTokenizer.Load(bad)).Message, "WordPiece");
        File.WriteAllText(bad, """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Digits"}}""");
        StringAssert.Contains(Assert.ThrowsExactly<NotSupportedException>(() => JambaTokenizer.Load(bad)).Message, "Digits");
    }

    [TestMethod]
    public void AddedTokenFlagsFollowHuggingFace()
    {
        // A toy byte-level vocabulary: lstrip/rstrip swallow the whitespace beside a token, single_word refuses to
        // match inside a word, and a normalized token is found after the normalizer has run.
        var vocab = new System.Text.Json.Nodes.JsonObject();
        int next = 0;
        foreach (char c in "abxyzĠ") vocab[c.ToString()] = next++;
        string json = $$"""
        {"model": {"type": "BPE", "vocab": {{vocab.ToJsonString()}}, "merges": []},
         "normalizer": {"type": "Lowercase"},
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
         "decoder": {"type": "ByteLevel"},
         "added_tokens": [
           {"id": 10, "content": "<L>", "lstrip": true, "special": true},
           {"id": 11, "content": "<R>", "rstrip": true, "special": true},
           {"id": 12, "content": "w", "single_word": true, "special": false, "normalized": false},
           {"id": 13, "content": "zz", "normalized": true, "special": false}]}
        """;
        var tok = HuggingFaceTokenizer.FromJson(json);
        CollectionAssert.AreEqual(new[] { 0, 10, 5, 1 }, tok.Encode("a  <L> b").ToArray());
        CollectionAssert.AreEqual(new[] { 0, 5, 11, 1 }, tok.Encode("a <R>  b").ToArray());
        CollectionAssert.AreEqual(new[] { 0, 5, 12, 5, 1 }, tok.Encode("a w b").ToArray());
        CollectionAssert.AreEqual(new[] { 13 }, tok.Encode("ZZ").ToArray());
        Assert.AreEqual("ab", tok.Decode(tok.Encode("a <L>b")), "the space went to <L>, which decoding skips");
    }

    [TestMethod]
    public void MissingPathIsNamed()
    {
        string missing = Path.Combine(_dir, "nope", "tokenizer.model");
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => JambaTokenizer.Load(missing));
        StringAssert.Contains(e.Message, missing);
        Assert.ThrowsExactly<FileNotFoundException>(() => SentencePieceTokenizer.FromFile(missing));
    }

    [TestMethod]
    public void FolderWithoutModelIsNamed()
    {
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => JambaTokenizer.Load(_dir));
        StringAssert.Contains(e.Message, _dir);
        StringAssert.Contains(e.Message, "tokenizer.model");
    }

    [TestMethod]
    public void CorruptFilesGiveInvalidDataNamingTheFile()
    {
        byte[] model = File.ReadAllBytes(ModelPath);
        var random = new Random(7);
        byte[] noise = new byte[4096];
        random.NextBytes(noise);
        var files = new Dictionary<string, byte[]>
        {
            ["empty.model"] = [],
            ["text.model"] = "{\"model\": {\"type\": \"BPE\"}}"u8.ToArray(),
            ["truncated.model"] = model[..(model.Length / 2)],
            ["noise.model"] = noise,
        };
        foreach (var (name, bytes) in files)
        {
            string path = Path.Combine(_dir, name);
            File.WriteAllBytes(path, bytes);
            var e = Assert.ThrowsExactly<InvalidDataException>(() => JambaTokenizer.Load(path), name);
            StringAssert.Contains(e.Message, path);
        }
    }

    [TestMethod]
    public void UnigramModelIsNotSupported()
    {
        string path = Path.Combine(_dir, "unigram.model");
        File.WriteAllBytes(path, TinyModel(modelType: 1));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => SentencePieceTokenizer.FromFile(path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void CharacterMapNormalizationIsNotSupported()
    {
        // Neither this library nor Microsoft.ML.Tokenizers applies an nmt_nfkc-style map to BPE models; refusing beats
        // silently producing other ids than SentencePiece.
        string path = Path.Combine(_dir, "nfkc.model");
        File.WriteAllBytes(path, TinyModel(modelType: 2, characterMap: [1, 2, 3, 4]));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => JambaTokenizer.Load(path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void WhitespaceCollapsingModelsAreNotSupported()
    {
        string path = Path.Combine(_dir, "collapse.model");
        File.WriteAllBytes(path, TinyModel(modelType: 2, removeExtraWhitespaces: true));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => JambaTokenizer.Load(path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void HandBuiltBpeModelLoads()
    {
        // Guards the test model writer above: the same bytes with model type BPE load and encode.
        var tok = SentencePieceTokenizer.FromStream(new MemoryStream(TinyModel(modelType: 2)));
        Assert.AreEqual(3, tok.VocabSize);
        CollectionAssert.AreEqual(new[] { 2, 1 }, tok.Encode("a").ToArray()); // ▁ then a
        Assert.IsNull(tok.BosId);
        Assert.ThrowsExactly<InvalidOperationException>(() => tok.Encode("a", addBos: true));
    }

    /// <summary>A three-piece model (unknown, "a", "▁"), identity normalization, written with the protobuf field numbers of sentencepiece_model.proto.</summary>
    private static byte[] TinyModel(int modelType, byte[]? characterMap = null, bool removeExtraWhitespaces = false)
    {
        static byte[] Piece(string text, float score, int type)
        {
            using var m = new MemoryStream();
            var o = new CodedOutputStream(m);
            o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteString(text);
            o.WriteTag(2, WireFormat.WireType.Fixed32); o.WriteFloat(score);
            o.WriteTag(3, WireFormat.WireType.Varint); o.WriteEnum(type);
            o.Flush();
            return m.ToArray();
        }
        using var ms = new MemoryStream();
        var output = new CodedOutputStream(ms);
        foreach (var p in new[] { Piece("<unk>", 0, 2), Piece("a", -1, 1), Piece("\u2581", -2, 1) })
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(p));
        }
        using var trainer = new MemoryStream();
        var t = new CodedOutputStream(trainer);
        t.WriteTag(3, WireFormat.WireType.Varint); t.WriteEnum(modelType);
        t.WriteTag(40, WireFormat.WireType.Varint); t.WriteInt32(0);
        t.Flush();
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(trainer.ToArray()));
        using var normalizer = new MemoryStream();
        var n = new CodedOutputStream(normalizer);
        n.WriteTag(1, WireFormat.WireType.LengthDelimited); n.WriteString("identity");
        if (characterMap is not null) { n.WriteTag(2, WireFormat.WireType.LengthDelimited); n.WriteBytes(ByteString.CopyFrom(characterMap)); }
        n.WriteTag(4, WireFormat.WireType.Varint); n.WriteBool(removeExtraWhitespaces);
        n.Flush();
        output.WriteTag(3, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(normalizer.ToArray()));
        output.Flush();
        return ms.ToArray();
    }
}
