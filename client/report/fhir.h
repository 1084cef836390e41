/*
 * A client's records as an HL7 FHIR R4 Bundle, for an EHR or a payer: a Patient
 * with no identifiers (the clinic adds its own when it imports the bundle), an
 * Observation per craving and per daily check-in (mood, peak craving, use,
 * medication taken, sleep), and a QuestionnaireResponse per validated measure
 * with the LOINC panel codes (PHQ-9 44249-1, GAD-7 69737-5) and an Observation of
 * its total score (PHQ-9 44261-6, GAD-7 70274-6). Every resource carries the
 * 42 CFR Part 2 security label (meta.security: HL7 v3 ActCode 42CFRPart2, and
 * the confidentiality code R) and the redisclosure notice of 42 CFR 2.32 as its
 * narrative. Journal entries stay out: their text is the client's own words, and a
 * bundle for an EHR is not the place for them unless a later consent says so.
 *
 * Codes Daybook defines itself (the craving and check-in observations and their
 * components) use the system DBK_FHIR_SYSTEM; they are named in proto/FHIR.md.
 */
#ifndef DBK_CLIENT_FHIR_H
#define DBK_CLIENT_FHIR_H

#include "entries.h"

#define DBK_FHIR_SYSTEM "https://daybook.invalid/fhir/CodeSystem/daybook"

/*
 * The Bundle (type "collection") of the entries of l in streams owned by owner
 * (NULL: this account's own), made at generated_at (RFC 3339). New reference, or
 * NULL when out of memory. *count gets the number of entries it holds.
 */
json_t *dbk_fhir_bundle(const dbk_eu_list *l, const dbk_id *owner, const char *generated_at,
                        size_t *count);

#endif
