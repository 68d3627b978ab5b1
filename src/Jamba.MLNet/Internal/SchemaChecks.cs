using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Internal;

/// <summary>What a Jamba component needs a column to be.</summary>
internal enum ColumnExpectation
{
    /// <summary>A scalar text column (String / ReadOnlyMemory&lt;char&gt;).</summary>
    Text,
    /// <summary>A vector of text (known or variable size).</summary>
    TextVector,
    /// <summary>A key column (what MapValueToKey produces), as multiclass trainers require.</summary>
    Key,
    /// <summary>A Boolean column, as binary classification trainers require.</summary>
    Boolean,
    /// <summary>A Single (float) column, as regression trainers require.</summary>
    Single,
}

/// <summary>
/// Input-schema validation shared by estimators (SchemaShape) and transformers (DataViewSchema). Every error names
/// the component, the column, the type expected and the type found, the way ML.NET's own schema errors do.
/// </summary>
internal static class SchemaChecks
{
    public static string Expected(ColumnExpectation e) => e switch
    {
        ColumnExpectation.Text => "String (Text)",
        ColumnExpectation.TextVector => "Vector<String (Text)>",
        ColumnExpectation.Key => "Key<UInt32> (use MapValueToKey on the label)",
        ColumnExpectation.Boolean => "Boolean",
        _ => "Single",
    };

    /// <summary>Finds and checks a column of a concrete schema.</summary>
    public static DataViewSchema.Column Check(DataViewSchema schema, string component, string role, string name, ColumnExpectation expectation)
    {
        var column = schema.GetColumnOrNull(name) ?? throw new ArgumentOutOfRangeException(nameof(schema),
            $"{component}: {role} column '{name}' was not found; expected a column of type {Expected(expectation)}, found none (columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => c.Name))})");
        var type = column.Type;
        bool ok = expectation switch
        {
            ColumnExpectation.Text => type is TextDataViewType,
            ColumnExpectation.TextVector => type is VectorDataViewType { ItemType: TextDataViewType },
            ColumnExpectation.Key => type is KeyDataViewType,
            ColumnExpectation.Boolean => type is BooleanDataViewType,
            _ => type == NumberDataViewType.Single,
        };
        if (!ok) throw new ArgumentOutOfRangeException(nameof(schema),
            $"{component}: {role} column '{name}' has the wrong type: expected {Expected(expectation)}, found {MLNetInterop.Describe(type)}");
        return column;
    }

    /// <summary>Finds and checks a column of a schema shape (an estimator's GetOutputSchema).</summary>
    public static SchemaShape.Column Check(SchemaShape shape, string component, string role, string name, ColumnExpectation expectation)
    {
        var found = shape.Where(c => c.Name == name).ToArray();
        if (found.Length == 0) throw new ArgumentOutOfRangeException("inputSchema",
            $"{component}: {role} column '{name}' was not found; expected a column of type {Expected(expectation)}, found none (columns: {string.Join(", ", shape.Select(c => c.Name))})");
        var column = found[^1];
        bool scalar = column.Kind == SchemaShape.Column.VectorKind.Scalar;
        bool ok = expectation switch
        {
            ColumnExpectation.Text => scalar && column.ItemType is TextDataViewType,
            ColumnExpectation.TextVector => !scalar && column.ItemType is TextDataViewType,
            ColumnExpectation.Key => scalar && column.IsKey,
            ColumnExpectation.Boolean => scalar && column.ItemType is BooleanDataViewType,
            _ => scalar && column.ItemType == NumberDataViewType.Single,
        };
        if (!ok) throw new ArgumentOutOfRangeException("inputSchema",
            $"{component}: {role} column '{name}' has the wrong type: expected {Expected(expectation)}, found {MLNetInterop.Describe(column)}");
        return column;
    }
}
