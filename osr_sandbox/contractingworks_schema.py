"""The subset of Contracting Works' published GraphQL SDL the connector reads, field for field.

Taken from the client API's ``schema.graphql`` (ContractingWorks/ClientAPI,
Examples/ReadAndWrite/schema.graphql): the root sets the connector asks for and,
on each type, the fields it selects, with the SDL's own types and arguments
(``externalSystemId`` left out). A test checks every type and field here
against the full published SDL, so the sandbox refuses what the real API would.
"""

SDL = """
schema {
  query: Query
}

scalar Decimal
scalar Short
scalar DateTime
scalar Long
scalar Date

input OrderByGraph {
  path: String!
  descending: Boolean
}

type Query {
  companyInfos(skip: Int take: Int top: Int filter: String orderBy: [OrderByGraph]): CompanyInfoSet
  projectAccounts(skip: Int take: Int top: Int filter: String orderBy: [OrderByGraph]): ProjectAccountSet
  departments(skip: Int take: Int top: Int filter: String orderBy: [OrderByGraph]): DepartmentSet
  projects(skip: Int take: Int top: Int filter: String orderBy: [OrderByGraph]): ProjectSet
  customers(skip: Int take: Int top: Int filter: String orderBy: [OrderByGraph]): CustomerSet
  suppliers(skip: Int take: Int top: Int filter: String orderBy: [OrderByGraph]): SupplierSet
  invoiceLines(skip: Int take: Int top: Int filter: String orderBy: [OrderByGraph]): InvoiceLineSet
  supplierInvoiceLines(skip: Int take: Int top: Int filter: String orderBy: [OrderByGraph]): SupplierInvoiceLineSet
  budgetLinePeriods(skip: Int take: Int top: Int filter: String orderBy: [OrderByGraph]): BudgetLinePeriodSet
}

type CompanyInfo {
  companyInfoId: Int!
  companyName: String
  organizationNumber: String
}

type ProjectAccount {
  projectAccountId: Int!
  accountNumber: Int
  description: String!
}

type Department {
  departmentId: Short!
  departmentNumber: Int
  description: String!
}

type Project {
  projectId: Int!
  code: String
  name: String
  departmentId: Short
}

type Customer {
  customerId: Int!
  customerNumber: Int
  name: String
  organizationNumber: String
}

type Supplier {
  supplierId: Int!
  supplierNumber: Int
  supplierName: String
  organizationNumber: String
}

type InvoiceLine {
  invoiceLineId: Int!
  calc_InvoiceAmount: Decimal
  invoiceLineText: String!
  departmentId: Short
  sys_UpdatedDateUTC: DateTime!
  income_ProjectAccount: ProjectAccount
  invoice: Invoice
}

type Invoice {
  invoiceId: Int!
  invoiceNumber: Int
  invoiceDate: Date
  projectId: Int
  customerId: Int!
  departmentId: Short
}

type SupplierInvoiceLine {
  supplierInvoiceLineId: Int!
  lineAmount: Decimal
  comment: String
  departmentId: Short
  projectAccountNumberTxt: String
  sys_UpdatedDateUTC: DateTime!
  assignment: Assignment
  supplierInvoice: SupplierInvoice
}

type Assignment {
  assignmentId: Int!
  projectId: Int
}

type SupplierInvoice {
  supplierInvoiceId: Int!
  invoiceNumber: String
  invoiceDate: Date
  supplierId: Int
}

type BudgetLinePeriod {
  budgetLinePeriodId: Int!
  budgetValue: Decimal
  projectPeriod: ProjectPeriod
  budgetLine: BudgetLine
}

type ProjectPeriod {
  projectPeriodId: Int!
  periodYear: Short!
  periodNumber: Short!
}

type BudgetLine {
  budgetLineId: Int!
  projectAccount: ProjectAccount
  budget: Budget
}

type Budget {
  budgetId: Int!
  projectId: Int
  budgetScenario: BudgetScenario
  project: Project
}

type BudgetScenario {
  budgetScenarioId: Int!
  description: String!
}

type BudgetLinePeriodSet {
  totalCount: Int
  items: [BudgetLinePeriod!]
}

type CompanyInfoSet {
  totalCount: Int
  items: [CompanyInfo!]
}

type CustomerSet {
  totalCount: Int
  items: [Customer!]
}

type DepartmentSet {
  totalCount: Int
  items: [Department!]
}

type InvoiceLineSet {
  totalCount: Int
  items: [InvoiceLine!]
}

type ProjectAccountSet {
  totalCount: Int
  items: [ProjectAccount!]
}

type ProjectSet {
  totalCount: Int
  items: [Project!]
}

type SupplierInvoiceLineSet {
  totalCount: Int
  items: [SupplierInvoiceLine!]
}

type SupplierSet {
  totalCount: Int
  items: [Supplier!]
}
"""
