import HTTPTypes

extension HTTPFields {
    /// The field's value, as `self[name]` answers it (a repeated field's values joined), found in
    /// one pass without the array and joined string the subscript builds for every lookup: the
    /// gateway reads a few headers of every request.
    func value(_ name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}
