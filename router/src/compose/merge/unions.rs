//! Unions: the union of members, with one `@join__unionMember` per subgraph and member.

use apollo_compiler::Name;
use apollo_compiler::schema::ExtendedType;
use indexmap::IndexSet;

use super::Merger;
use super::join_spec::join_union_member;

impl Merger<'_> {
    /// Merges a union type's members.
    pub(super) fn merge_union(&mut self, name: &Name) {
        self.merge_type_metadata(name);
        let unions: Vec<(usize, &apollo_compiler::schema::UnionType)> = self
            .subgraphs
            .iter()
            .enumerate()
            .filter_map(|(idx, s)| match s.schema.types.get(name) {
                Some(ExtendedType::Union(u)) => Some((idx, &**u)),
                _ => None,
            })
            .collect();
        let members: IndexSet<Name> = unions
            .iter()
            .flat_map(|(_, u)| u.members.iter().map(|m| m.name.clone()))
            .collect();
        let mut directives = Vec::new();
        for member in &members {
            for (idx, union) in &unions {
                if union.members.iter().any(|m| &m.name == member) {
                    directives.push(join_union_member(&self.graphs[*idx], member));
                }
            }
        }
        if let Some(ty) = self.types.get_mut(name) {
            ty.members.extend(members);
            ty.directives.extend(directives);
        }
    }
}
